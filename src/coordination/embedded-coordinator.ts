import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MomError } from '../core/errors';
import type {
  ClusterSettings,
  ControllerElection,
  ControllerFence,
  Coordinator,
  ExchangeInfo,
  NodeInfo,
  PartitionAssignment,
  PartitionState,
  SessionState,
  Unsubscribe,
} from './coordinator';

interface PersistedState {
  cluster?: ClusterSettings;
  controllerEpoch: number;
  partitions: Record<string, PartitionState>;
  exchanges: Record<string, ExchangeInfo>;
}

/**
 * The in-process coordinator of `--role all` (DESIGN §1): one node, no ZooKeeper. Persistent
 * state (cluster settings, partition map, exchanges) lives in `<data>/coordinator.json`,
 * written atomically (temp file, fsync, rename); membership is in memory, as an ephemeral
 * registration would be.
 */
export class EmbeddedCoordinator implements Coordinator {
  readonly kind = 'embedded' as const;
  private readonly path: string;
  private state: PersistedState = { controllerEpoch: 0, partitions: {}, exchanges: {} };
  private readonly nodes = new Map<string, NodeInfo>();
  private readonly nodeWatchers = new Set<(nodes: NodeInfo[]) => void>();
  private readonly partitionWatchers = new Set<(states: PartitionState[]) => void>();
  private closed = false;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'coordinator.json');
  }

  async start(): Promise<void> {
    try {
      this.state = JSON.parse(readFileSync(this.path, 'utf8')) as PersistedState;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new MomError('unavailable', `cannot read ${this.path}: ${(error as Error).message}`, { cause: error });
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.nodes.clear();
    this.nodeWatchers.clear();
    this.partitionWatchers.clear();
  }

  async ensureCluster(proposed: ClusterSettings): Promise<ClusterSettings> {
    if (!this.state.cluster) {
      this.state.cluster = { ...proposed };
      this.persist();
    }
    return { ...this.state.cluster };
  }

  /**
   * Registers the one node and, standing in for the controller, makes it the leader of every
   * partition with a new leader epoch, so its log entries are fenced from earlier runs.
   */
  async registerNode(info: NodeInfo): Promise<void> {
    this.nodes.set(info.id, { ...info });
    const partitions = this.state.cluster?.partitions ?? 0;
    for (let p = 0; p < partitions; p++) {
      const previous = this.state.partitions[String(p)];
      this.state.partitions[String(p)] = {
        partition: p,
        replicas: [info.id],
        leader: info.id,
        leaderEpoch: (previous?.leaderEpoch ?? 0) + 1,
        isr: [info.id],
        version: previous ? previous.version + 1 : 0,
      };
    }
    this.persist();
    this.notifyNodes();
    this.notifyPartitions();
  }

  /** One node and no one to hand its partitions to: it stays, and answers what it can. */
  async withdrawNode(): Promise<void> {}

  async listNodes(): Promise<NodeInfo[]> {
    return [...this.nodes.values()].map((node) => ({ ...node }));
  }

  watchNodes(listener: (nodes: NodeInfo[]) => void): Unsubscribe {
    this.nodeWatchers.add(listener);
    listener([...this.nodes.values()]);
    return () => this.nodeWatchers.delete(listener);
  }

  async listPartitions(): Promise<PartitionState[]> {
    return this.partitionList();
  }

  async getPartition(partition: number): Promise<PartitionState | undefined> {
    const state = this.state.partitions[String(partition)];
    return state ? { ...state } : undefined;
  }

  watchPartitions(listener: (states: PartitionState[]) => void): Unsubscribe {
    this.partitionWatchers.add(listener);
    listener(this.partitionList());
    return () => this.partitionWatchers.delete(listener);
  }

  async createPartition(assignment: PartitionAssignment, fence?: ControllerFence): Promise<boolean> {
    this.checkFence(fence);
    if (this.state.partitions[String(assignment.partition)]) return false;
    this.state.partitions[String(assignment.partition)] = { ...assignment, version: 0 };
    this.persist();
    this.notifyPartitions();
    return true;
  }

  async casPartition(next: PartitionAssignment, expectedVersion: number, fence?: ControllerFence): Promise<PartitionState | undefined> {
    this.checkFence(fence);
    const current = this.state.partitions[String(next.partition)];
    if (!current || current.version !== expectedVersion) return undefined;
    const written: PartitionState = { ...next, version: current.version + 1 };
    this.state.partitions[String(next.partition)] = written;
    this.persist();
    this.notifyPartitions();
    return { ...written };
  }

  async createExchange(name: string): Promise<{ created: boolean; exchange: ExchangeInfo }> {
    const existing = this.state.exchanges[name];
    if (existing) return { created: false, exchange: { ...existing } };
    const exchange = { name, createdAt: new Date().toISOString() };
    this.state.exchanges[name] = exchange;
    this.persist();
    return { created: true, exchange: { ...exchange } };
  }

  async getExchange(name: string): Promise<ExchangeInfo | undefined> {
    const exchange = this.state.exchanges[name];
    return exchange ? { ...exchange } : undefined;
  }

  async listExchanges(): Promise<ExchangeInfo[]> {
    return Object.values(this.state.exchanges)
      .map((exchange) => ({ ...exchange }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async deleteExchange(name: string): Promise<boolean> {
    if (!this.state.exchanges[name]) return false;
    delete this.state.exchanges[name];
    this.persist();
    return true;
  }

  /** One process, one candidate: elected at once, with the next controller epoch. */
  campaign(): ControllerElection {
    this.state.controllerEpoch += 1;
    this.persist();
    const epoch = this.state.controllerEpoch;
    let leader = true;
    return {
      elected: Promise.resolve(epoch),
      isLeader: () => leader && !this.closed,
      onDeposed: () => () => {},
      resign: async () => {
        leader = false;
      },
    };
  }

  sessionState(): SessionState {
    return this.closed ? 'expired' : 'connected';
  }

  onSessionState(): Unsubscribe {
    return () => {};
  }

  sessionTimeoutMs(): number {
    return Number.POSITIVE_INFINITY;
  }

  private checkFence(fence: ControllerFence | undefined): void {
    if (fence && fence.controllerEpoch !== this.state.controllerEpoch) {
      throw new MomError('stale_epoch', `controller epoch ${fence.controllerEpoch} is stale (current ${this.state.controllerEpoch})`);
    }
  }

  private partitionList(): PartitionState[] {
    return Object.values(this.state.partitions)
      .map((state) => ({ ...state }))
      .sort((a, b) => a.partition - b.partition);
  }

  private notifyNodes(): void {
    const nodes = [...this.nodes.values()];
    for (const listener of this.nodeWatchers) listener(nodes);
  }

  private notifyPartitions(): void {
    const states = this.partitionList();
    for (const listener of this.partitionWatchers) listener(states);
  }

  private persist(): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const temp = `${this.path}.tmp`;
    const fd = openSync(temp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(this.state, null, 2));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, this.path);
  }
}
