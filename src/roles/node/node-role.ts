import type { BrokerConfig } from '../../config/settings';
import type { Coordinator, NodeInfo, PartitionState, Unsubscribe } from '../../coordination/coordinator';
import { partitionOf } from '../../core/hash';
import { MomError } from '../../core/errors';
import type { Logger } from '../../runtime/logger';
import type { Metrics } from '../../runtime/metrics';
import { NodeStore } from '../../store/node-store';
import { LocalCommitLog, type CommitLog } from './commit-log';
import { PartitionEngine } from './partition-engine';

export interface NodeRoleOptions {
  config: BrokerConfig;
  coordinator: Coordinator;
  logger: Logger;
  metrics: Metrics;
  /** The client API URL other processes reach this node at. */
  httpUrl: string;
  /** The replication endpoint, "" without a replicator. */
  grpcAddress: string;
  version: string;
}

/** Builds the commit log a new leader uses; the cluster replaces the single-node one. */
export type CommitLogFactory = (partition: number, state: PartitionState) => Promise<CommitLog>;

const LEASE_SWEEP_MS = 100;
const MAINTENANCE_MS = 5_000;
/** Short, frequent checkpoints keep each one's pause small. */
const CHECKPOINT_MS = 250;

/**
 * The node role: owns the store, leads the partitions the coordinator assigns to it, and
 * answers for them. A request for a partition led elsewhere learns where (421 not_leader).
 */
export class NodeRole {
  readonly store: NodeStore;
  private partitionCount = 0;
  private readonly engines = new Map<number, PartitionEngine>();
  private readonly transitions = new Map<number, Promise<void>>();
  private partitions = new Map<number, PartitionState>();
  private nodes = new Map<string, NodeInfo>();
  private readonly unsubscribes: Unsubscribe[] = [];
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  private draining = false;
  private checkpointedAt = 0;
  commitLogFactory: CommitLogFactory;

  constructor(private readonly options: NodeRoleOptions) {
    this.store = NodeStore.open(options.config.data, options.config.fsync);
    this.commitLogFactory = async (partition, state) => {
      const log = new LocalCommitLog(this.store, partition, state.leaderEpoch, this.nodeId);
      await log.begin();
      return log;
    };
    const { metrics } = options;
    metrics.gauge('mom_store_group_commits_total', 'transactions committed by the group committer', () => this.store.writes.groups);
    metrics.gauge('mom_store_writes_total', 'writes committed (several per group)', () => this.store.writes.writes);
    metrics.gauge('mom_store_syncs_total', 'fdatasyncs of the write-ahead log', () => this.store.writes.syncs);
    metrics.gauge('mom_partitions_led', 'partitions this node leads', () => this.engines.size);
  }

  get nodeId(): string {
    return this.options.config.nodeId;
  }

  async start(): Promise<void> {
    const { coordinator, config } = this.options;
    const cluster = await coordinator.ensureCluster({ partitions: config.partitions });
    this.partitionCount = cluster.partitions;
    this.unsubscribes.push(
      coordinator.watchNodes((nodes) => {
        this.nodes = new Map(nodes.map((node) => [node.id, node]));
      }),
      coordinator.watchPartitions((states) => this.onPartitionMap(states)),
    );
    await coordinator.registerNode({ id: this.nodeId, http: this.options.httpUrl, grpc: this.options.grpcAddress, version: this.options.version });
    await Promise.all(this.transitions.values());
    this.timers.push(
      setInterval(() => this.sweepLeases(), LEASE_SWEEP_MS),
      setInterval(() => this.maintain(), MAINTENANCE_MS),
      setInterval(() => this.checkpoint(), CHECKPOINT_MS),
    );
    for (const timer of this.timers) timer.unref();
  }

  partitionOf(exchange: string, name: string): number {
    return partitionOf(exchange, name, this.partitionCount);
  }

  get partitionTotal(): number {
    return this.partitionCount;
  }

  allEngines(): PartitionEngine[] {
    return [...this.engines.values()];
  }

  /** The engine of the partition holding `exchange/name`, or 421 naming the leader. */
  engineFor(exchange: string, name: string): PartitionEngine {
    const partition = this.partitionOf(exchange, name);
    const engine = this.engines.get(partition);
    if (engine) return engine;
    throw this.notLeader(partition);
  }

  notLeader(partition: number): MomError {
    const state = this.partitions.get(partition);
    const leader = state?.leader ?? null;
    const location = leader ? this.nodes.get(leader)?.http ?? null : null;
    if (!leader || !location) {
      return new MomError('unavailable', `partition ${partition} has no leader right now; retry shortly`, { details: { partition } });
    }
    return new MomError('not_leader', `node ${this.nodeId} does not lead partition ${partition}; its leader is ${leader} at ${location}`, {
      details: { partition, leader, node_location: location, leader_epoch: state?.leaderEpoch ?? 0 },
    });
  }

  leaderOf(partition: number): { leader: string | null; node_location: string | null } {
    const leader = this.partitions.get(partition)?.leader ?? null;
    return { leader, node_location: leader ? this.nodes.get(leader)?.http ?? null : null };
  }

  private onPartitionMap(states: PartitionState[]): void {
    this.partitions = new Map(states.map((state) => [state.partition, state]));
    if (this.closed) return;
    for (const state of states) {
      const engine = this.engines.get(state.partition);
      const leadsNow = state.leader === this.nodeId;
      if (leadsNow && engine?.epoch === state.leaderEpoch) continue;
      if (!leadsNow && !engine) continue;
      this.queueTransition(state.partition, async () => {
        const current = this.engines.get(state.partition);
        if (current) {
          this.engines.delete(state.partition);
          current.close();
        }
        const latest = this.partitions.get(state.partition);
        if (this.closed || !latest || latest.leader !== this.nodeId) return;
        const log = await this.commitLogFactory(state.partition, latest);
        const engine = new PartitionEngine(this.store, log, { dedupWindowMs: this.options.config.dedupWindowMs, logger: this.options.logger });
        this.engines.set(state.partition, engine);
        this.options.logger.debug('leading partition', { partition: state.partition, epoch: latest.leaderEpoch });
      });
    }
  }

  /** Leadership changes of one partition run one after another, never interleaved. */
  private queueTransition(partition: number, step: () => Promise<void>): void {
    const previous = this.transitions.get(partition) ?? Promise.resolve();
    const next = previous.then(step).catch((error: unknown) => {
      this.options.logger.error('partition leadership change failed', { partition, error });
    });
    this.transitions.set(partition, next);
    void next.then(() => {
      if (this.transitions.get(partition) === next) this.transitions.delete(partition);
    });
  }

  private sweepLeases(): void {
    const now = Date.now();
    for (const engine of this.engines.values()) engine.sweepLeases(now);
  }

  private checkpoint(): void {
    if (this.closed || this.store.writes.groups === this.checkpointedAt) return;
    this.checkpointedAt = this.store.writes.groups;
    try {
      this.store.checkpoint();
    } catch (error) {
      this.options.logger.warn('checkpoint failed', { error });
    }
  }

  /** Compaction and dedup expiry, in the background, in their own transactions. */
  private maintain(): void {
    if (this.closed) return;
    const now = Date.now();
    void this.store.writes
      .submit(() => {
        let removed = 0;
        for (const engine of this.engines.values()) removed += this.store.compact(engine.partition, engine.compactionFloor(), now);
        removed += this.store.expireDedup(now - this.options.config.dedupWindowMs);
        return removed;
      })
      .then((removed) => {
        if (removed > 0) this.options.logger.debug('compacted', { rows: removed });
      })
      .catch((error: unknown) => this.options.logger.warn('compaction failed', { error }));
  }

  /** Lets in-flight requests end: long polls answer now, and keep answering at once. */
  drain(): void {
    this.draining = true;
    for (const engine of this.engines.values()) engine.wakeAllWaiters();
  }

  get isDraining(): boolean {
    return this.draining;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const unsubscribe of this.unsubscribes) unsubscribe();
    for (const engine of this.engines.values()) engine.close();
    this.engines.clear();
    await Promise.all(this.transitions.values());
    await this.store.close();
  }
}
