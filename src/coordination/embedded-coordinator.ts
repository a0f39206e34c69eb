import { closeSync, fchmodSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MomError } from '../core/errors';
import { ensurePrivateDir, makePrivateFile, PRIVATE_FILE_MODE } from '../runtime/private-files';
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

/** `<data>/coordinator.json`: maps are JSON objects there, and Maps here (see load()). */
interface PersistedState {
  cluster?: ClusterSettings;
  controllerEpoch: number;
  partitions: Record<string, PartitionState>;
  exchanges: Record<string, ExchangeInfo>;
}

/**
 * The state in memory. Exchanges are keyed by a client's string, so they live in a Map: a
 * plain object would take `constructor`, `__proto__` or `toString` for existing exchanges.
 */
interface State {
  cluster?: ClusterSettings;
  controllerEpoch: number;
  partitions: Map<number, PartitionState>;
  exchanges: Map<string, ExchangeInfo>;
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
  private state: State = { controllerEpoch: 0, partitions: new Map(), exchanges: new Map() };
  private readonly nodes = new Map<string, NodeInfo>();
  private readonly nodeWatchers = new Set<(nodes: NodeInfo[]) => void>();
  private readonly partitionWatchers = new Set<(states: PartitionState[]) => void>();
  private closed = false;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'coordinator.json');
  }

  async start(): Promise<void> {
    try {
      this.state = fromPersisted(JSON.parse(readFileSync(this.path, 'utf8')) as PersistedState);
      makePrivateFile(this.path);
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
      const previous = this.state.partitions.get(p);
      this.state.partitions.set(p, {
        partition: p,
        replicas: [info.id],
        leader: info.id,
        leaderEpoch: (previous?.leaderEpoch ?? 0) + 1,
        isr: [info.id],
        version: previous ? previous.version + 1 : 0,
      });
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
    const state = this.state.partitions.get(partition);
    return state ? { ...state } : undefined;
  }

  watchPartitions(listener: (states: PartitionState[]) => void): Unsubscribe {
    this.partitionWatchers.add(listener);
    listener(this.partitionList());
    return () => this.partitionWatchers.delete(listener);
  }

  async createPartition(assignment: PartitionAssignment, fence?: ControllerFence): Promise<boolean> {
    this.checkFence(fence);
    if (this.state.partitions.has(assignment.partition)) return false;
    this.state.partitions.set(assignment.partition, { ...assignment, version: 0 });
    this.persist();
    this.notifyPartitions();
    return true;
  }

  async casPartition(next: PartitionAssignment, expectedVersion: number, fence?: ControllerFence): Promise<PartitionState | undefined> {
    this.checkFence(fence);
    const current = this.state.partitions.get(next.partition);
    if (!current || current.version !== expectedVersion) return undefined;
    const written: PartitionState = { ...next, version: current.version + 1 };
    this.state.partitions.set(next.partition, written);
    this.persist();
    this.notifyPartitions();
    return { ...written };
  }

  async createExchange(name: string): Promise<{ created: boolean; exchange: ExchangeInfo }> {
    const existing = this.state.exchanges.get(name);
    if (existing) return { created: false, exchange: { ...existing } };
    const exchange = { name, createdAt: new Date().toISOString() };
    this.state.exchanges.set(name, exchange);
    this.persist();
    return { created: true, exchange: { ...exchange } };
  }

  async getExchange(name: string): Promise<ExchangeInfo | undefined> {
    const exchange = this.state.exchanges.get(name);
    return exchange ? { ...exchange } : undefined;
  }

  async listExchanges(): Promise<ExchangeInfo[]> {
    return [...this.state.exchanges.values()]
      .map((exchange) => ({ ...exchange }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async deleteExchange(name: string): Promise<boolean> {
    if (!this.state.exchanges.delete(name)) return false;
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
    return [...this.state.partitions.values()]
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
    ensurePrivateDir(dirname(this.path));
    const temp = `${this.path}.tmp`;
    const fd = openSync(temp, 'w', PRIVATE_FILE_MODE);
    try {
      // open's mode is masked by the umask and ignored for an existing file: set it exactly.
      fchmodSync(fd, PRIVATE_FILE_MODE);
      writeSync(fd, JSON.stringify(toPersisted(this.state), null, 2));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, this.path);
  }
}

/** Own properties only: a key named `__proto__` in the file is an exchange like any other. */
function fromPersisted(persisted: PersistedState): State {
  const exchanges = new Map<string, ExchangeInfo>();
  for (const [name, info] of Object.entries(persisted.exchanges ?? {})) exchanges.set(name, info);
  const partitions = new Map<number, PartitionState>();
  for (const state of Object.values(persisted.partitions ?? {})) partitions.set(state.partition, state);
  return { ...(persisted.cluster ? { cluster: persisted.cluster } : {}), controllerEpoch: persisted.controllerEpoch ?? 0, partitions, exchanges };
}

/**
 * Object.fromEntries defines own properties (no `__proto__` setter), and JSON.stringify writes
 * them, so an exchange named `__proto__` survives the round trip through the file.
 */
function toPersisted(state: State): PersistedState {
  return {
    ...(state.cluster ? { cluster: state.cluster } : {}),
    controllerEpoch: state.controllerEpoch,
    partitions: Object.fromEntries([...state.partitions].map(([p, s]) => [String(p), s])),
    exchanges: Object.fromEntries(state.exchanges),
  };
}
