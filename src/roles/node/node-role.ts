import type { BrokerConfig } from '../../config/settings';
import type { Coordinator, NodeInfo, PartitionState, SessionState, Unsubscribe } from '../../coordination/coordinator';
import { partitionOf } from '../../core/hash';
import { MomError } from '../../core/errors';
import type { Logger } from '../../runtime/logger';
import type { Metrics } from '../../runtime/metrics';
import { ReplicatedCommitLog } from '../../replication/leader-log';
import { PartitionFollower } from '../../replication/partition-follower';
import type { ReplicationPeers } from '../../replication/replication-client';
import { NodeStore } from '../../store/node-store';
import type { StorageState } from '../../store/storage-health';
import { LocalCommitLog, type CommitLog } from './commit-log';
import { PartitionEngine } from './partition-engine';
import type { UnreadBudget } from './inbox-delivery';

export interface NodeRoleOptions {
  config: BrokerConfig;
  coordinator: Coordinator;
  logger: Logger;
  metrics: Metrics;
  /** The client API URL other processes reach this node at. */
  httpUrl: string;
  /** The replication endpoint, "" without a replicator. */
  grpcAddress: string;
  /** Present when the node replicates (cluster): the clients to other nodes' replicators. */
  replication?: { peers: ReplicationPeers };
  version: string;
  /**
   * The disk failed an fdatasync: what this process reads back may differ from the disk, so
   * it must stop at once and start again from what the disk holds (GroupCommitOptions.onSyncFailure).
   */
  onFatal: (error: Error) => void;
}

/** Builds the commit log a new leader uses; the cluster replaces the single-node one. */
export type CommitLogFactory = (partition: number, state: PartitionState) => Promise<CommitLog>;

const LEASE_SWEEP_MS = 100;
/** Compaction runs often in small passes (see Compactor's window): a pause of a few ms, not tens. */
const MAINTENANCE_MS = 100;
/** Memory all unread lists of a node may hold (consumers that keep up are served from it). */
const UNREAD_BUDGET_BYTES = 64 * 1024 * 1024;
/** One pull takes at most 1,000 messages: a consumer further behind reads the store. */
const UNREAD_PER_INBOX = 2_000;
/** Short, frequent checkpoints keep each one's pause small. */
const CHECKPOINT_MS = 250;
const REGISTRATION_RETRY_MS = 1_000;

/**
 * The node role: owns the store, leads the partitions the coordinator assigns to it, and
 * answers for them. A request for a partition led elsewhere learns where (421 not_leader).
 */
export class NodeRole {
  readonly store: NodeStore;
  private partitionCount = 0;
  private readonly engines = new Map<number, PartitionEngine>();
  private readonly unreadBudget: UnreadBudget = { limit: UNREAD_BUDGET_BYTES, perInbox: UNREAD_PER_INBOX, used: 0 };
  private readonly followers = new Map<number, PartitionFollower>();
  private fenced = false;
  /** The disk refuses writes (cluster only): leading and following stop until it takes them again. */
  private storageFenced = false;
  /** Withdrawals and registrations, one after another. */
  private registrationChange: Promise<void> = Promise.resolve();
  private fenceTimer: NodeJS.Timeout | undefined;
  private readonly transitions = new Map<number, Promise<void>>();
  /** Per partition, the role a queued or running reconcile transition is taking (see reconcile). */
  private readonly transitionTargets = new Map<number, string>();
  private partitions = new Map<number, PartitionState>();
  private nodes = new Map<string, NodeInfo>();
  private readonly unsubscribes: Unsubscribe[] = [];
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  private draining = false;
  private checkpointedAt = 0;
  commitLogFactory: CommitLogFactory;

  constructor(private readonly options: NodeRoleOptions) {
    this.store = NodeStore.open(options.config.data, options.config.fsync, {
      logger: options.logger,
      onCheckpointError: (message) => options.logger.warn('checkpoint failed', { error: message }),
      onSyncFailure: (error) => options.onFatal(error),
    });
    this.commitLogFactory = async (partition, state) => {
      const log: CommitLog =
        state.replicas.length > 1
          ? new ReplicatedCommitLog({
              store: this.store,
              coordinator: options.coordinator,
              state,
              nodeId: this.nodeId,
              minInsyncReplicas: options.config.minInsyncReplicas,
              replicaLagMaxMs: options.config.replicaLagMaxMs,
              logger: options.logger,
              onDeposed: () => this.queueTransition(partition, () => this.stepDown(partition)),
              isLive: (nodeId) => this.nodes.has(nodeId),
            })
          : new LocalCommitLog(this.store, partition, state.leaderEpoch, this.nodeId);
      await log.begin();
      return log;
    };
    const { metrics } = options;
    metrics.gauge('mom_store_group_commits_total', 'transactions committed by the group committer', () => this.store.writes.groups);
    metrics.gauge('mom_store_writes_total', 'writes committed (several per group)', () => this.store.writes.writes);
    metrics.gauge('mom_store_syncs_total', 'fdatasyncs of the write-ahead log', () => this.store.writes.syncs);
    metrics.gauge('mom_store_checkpoints_total', 'WAL checkpoints completed by the checkpointer thread', () => this.store.checkpointer.completed);
    metrics.gauge('mom_partitions_led', 'partitions this node leads', () => this.engines.size);
    metrics.gauge('mom_store_writable', '1 while the disk takes writes, 0 while it refuses them (full or failing)', () => (this.store.health.writable ? 1 : 0));
    metrics.gauge('mom_store_write_failures_total', 'times the disk refused a write and the node stopped writing', () => this.store.health.failures);
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
        this.reconcile();
      }),
      coordinator.onSessionState((state) => this.onSessionState(state)),
      coordinator.watchPartitions((states) => this.onPartitionMap(states)),
      this.store.health.onChange((state) => this.onStorageState(state)),
    );
    await coordinator.registerNode(this.registration());
    await Promise.all(this.transitions.values());
    this.timers.push(
      setInterval(() => this.sweepLeases(), LEASE_SWEEP_MS),
      setInterval(() => this.maintain(), MAINTENANCE_MS),
      setInterval(() => this.checkpoint(), CHECKPOINT_MS),
    );
    for (const timer of this.timers) timer.unref();
  }

  private registration(): NodeInfo {
    return { id: this.nodeId, http: this.options.httpUrl, grpc: this.options.grpcAddress, version: this.options.version };
  }

  private get clustered(): boolean {
    return this.options.coordinator.kind === 'zookeeper';
  }

  /**
   * DESIGN §5: a node whose disk refuses writes gives up its partitions. It withdraws its
   * registration, so the controller treats it as gone: other in-sync replicas take over its
   * leaderships and it leaves every ISR (a follower that cannot store what it fetches must
   * not hold the high watermark back, nor ever be elected). Once the disk takes writes again
   * it registers again and catches up as a follower; leaders add it back to the ISR when it
   * has everything. A single node has no one to hand over to: it keeps leading, answers
   * reads, and writes answer 507 until the disk takes them again.
   */
  private onStorageState(state: StorageState): void {
    if (this.closed || !this.clustered) return;
    const { coordinator, logger } = this.options;
    if (state === 'failed') {
      if (this.storageFenced) return;
      this.storageFenced = true;
      this.transitionTargets.clear();
      logger.warn('stepping down from every partition until the disk takes writes again');
      for (const partition of new Set([...this.engines.keys(), ...this.followers.keys()])) {
        this.queueTransition(partition, () => this.stepDown(partition));
      }
      this.changeRegistration('withdraw', () => coordinator.withdrawNode());
      return;
    }
    this.changeRegistration('register', async () => {
      await coordinator.registerNode(this.registration());
      if (!this.store.health.writable || this.closed) return;
      this.storageFenced = false;
      this.transitionTargets.clear();
      logger.info('registered again after the disk recovered; following the partition map');
      this.reconcile();
    });
  }

  private changeRegistration(what: string, change: () => Promise<void>): void {
    this.registrationChange = this.registrationChange.then(async () => {
      for (let attempt = 1; !this.closed; attempt++) {
        try {
          await change();
          return;
        } catch (error) {
          this.options.logger.warn(`could not ${what} this node in the coordinator; retrying`, { attempt, error });
          await new Promise((resolve) => setTimeout(resolve, REGISTRATION_RETRY_MS));
        }
      }
    });
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
    if (!engine) throw this.notLeader(partition);
    const notReady = engine.commitLog.notReady();
    if (notReady) throw notReady;
    return engine;
  }

  notLeader(partition: number): MomError {
    const state = this.partitions.get(partition);
    const leader = state?.leader ?? null;
    const location = leader ? this.nodes.get(leader)?.http ?? null : null;
    if (leader === this.nodeId && this.storageFenced) return this.store.health.refusal() ?? new MomError('unavailable', `partition ${partition} is moving to another node; retry shortly`);
    // Named as leader but not leading (fenced, or between steps): pointing at itself would loop the gateway.
    if (!leader || !location || leader === this.nodeId) {
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
    this.reconcile();
  }

  /** Brings each partition's local role (leader, follower, nothing) in line with the map. */
  private reconcile(): void {
    if (this.closed) return;
    for (const state of this.partitions.values()) {
      const p = state.partition;
      const engine = this.engines.get(p);
      const follower = this.followers.get(p);
      const fenced = this.fenced || this.storageFenced;
      const leads = state.leader === this.nodeId && !fenced;
      const follows = !leads && !fenced && state.leader !== null && state.replicas.includes(this.nodeId);
      if (leads && engine?.epoch === state.leaderEpoch) {
        engine.commitLog.updateState?.(state);
        continue;
      }
      const leaderAddress = follows ? this.nodes.get(state.leader!)?.grpc : undefined;
      // The leader's address counts too: a leader restarted before its old session expired
      // takes a new epoch while the old registration (old gRPC port) is still what we see.
      if (follows && follower?.leaderEpoch === state.leaderEpoch && follower.leaderId === state.leader && follower.leaderAddress === leaderAddress && !engine) continue;
      if (!leads && !follows && !engine && !follower) continue;
      if (follows && !leaderAddress && !engine && !follower) continue; // the leader's registration will arrive
      // Every map or node event reconciles, and a failover brings several in a row (one per
      // partition the controller writes): the same change must not be queued again while it
      // is on its way, or the engine just created is closed and created once more (its first
      // epoch entry then looks like a restart and costs a needless epoch bump).
      const target = leads ? `lead ${state.leaderEpoch}` : follows ? `follow ${state.leader} ${state.leaderEpoch} ${leaderAddress ?? ''}` : 'none';
      if (this.transitionTargets.get(p) === target) continue;
      this.transitionTargets.set(p, target);
      const done = () => {
        if (this.transitionTargets.get(p) === target) this.transitionTargets.delete(p);
      };
      const step = async () => {
        await this.stepDown(p);
        const latest = this.partitions.get(p);
        if (this.closed || this.fenced || this.storageFenced || !latest) return;
        if (latest.leader === this.nodeId) {
          if (this.store.lastEpoch(p) >= latest.leaderEpoch && this.options.config.zookeeper) {
            // This node already wrote in this epoch before it restarted: leading it again could
            // reuse offsets its followers hold with other entries. A new epoch fences them.
            await this.bumpOwnEpoch(latest);
            return;
          }
          const log = await this.commitLogFactory(p, latest);
          if (this.closed || this.fenced || this.storageFenced) {
            log.close();
            return;
          }
          this.engines.set(p, new PartitionEngine(this.store, log, { dedupWindowMs: this.options.config.dedupWindowMs, logger: this.options.logger, unreadBudget: this.unreadBudget }));
          // Leadership changes are news in a cluster; a single replica leads everything from the start.
          const level = latest.replicas.length > 1 ? 'info' : 'debug';
          this.options.logger[level]('leading partition', { partition: p, epoch: latest.leaderEpoch, isr: latest.isr });
          return;
        }
        const address = latest.leader ? this.nodes.get(latest.leader)?.grpc : undefined;
        if (latest.leader && address && latest.replicas.includes(this.nodeId) && this.options.replication) {
          const next = new PartitionFollower({
            store: this.store,
            peers: this.options.replication.peers,
            partition: p,
            nodeId: this.nodeId,
            leaderId: latest.leader,
            leaderAddress: address,
            leaderEpoch: latest.leaderEpoch,
            logger: this.options.logger,
          });
          this.followers.set(p, next);
          next.start();
          this.options.logger.debug('following partition', { partition: p, leader: latest.leader, epoch: latest.leaderEpoch });
        }
      };
      this.queueTransition(p, () => step().finally(done));
    }
  }

  private async bumpOwnEpoch(state: PartitionState): Promise<void> {
    const next = { partition: state.partition, replicas: state.replicas, leader: this.nodeId, leaderEpoch: state.leaderEpoch + 1, isr: state.isr };
    const written = await this.options.coordinator.casPartition(next, state.version);
    this.options.logger.info('restarted leader takes a new epoch', { partition: state.partition, epoch: next.leaderEpoch, written: written !== undefined });
    // The watch brings the new state (or whatever won the race) and leads from there.
  }

  private async stepDown(partition: number): Promise<void> {
    const engine = this.engines.get(partition);
    if (engine) {
      this.engines.delete(partition);
      engine.close();
    }
    const follower = this.followers.get(partition);
    if (follower) {
      this.followers.delete(partition);
      await follower.close();
    }
  }

  /**
   * Fencing (DESIGN §4): a node cut from ZooKeeper stops leading once it has been disconnected
   * for the session timeout (its session may have expired without it knowing), or at once when
   * it learns the session expired. It leads again only from a fresh view of the map.
   */
  private onSessionState(state: SessionState): void {
    if (state === 'connected') {
      if (this.fenceTimer) clearTimeout(this.fenceTimer);
      this.fenceTimer = undefined;
      if (this.fenced) {
        this.fenced = false;
        this.transitionTargets.clear(); // whatever was on its way saw the fence: decide afresh
        this.options.logger.info('session restored; resuming from the current partition map');
        this.reconcile();
      }
      return;
    }
    if (state === 'expired') {
      this.fence('session expired');
      return;
    }
    if (!this.fenceTimer && !this.fenced) {
      const timeout = this.options.coordinator.sessionTimeoutMs();
      if (!Number.isFinite(timeout)) return;
      this.fenceTimer = setTimeout(() => this.fence(`disconnected from the coordinator for ${timeout} ms`), timeout);
      this.fenceTimer.unref();
    }
  }

  private fence(reason: string): void {
    if (this.fenced) return;
    this.fenced = true;
    this.transitionTargets.clear();
    this.fenceTimer = undefined;
    this.options.logger.warn('stopped leading every partition', { reason });
    for (const partition of new Set([...this.engines.keys(), ...this.followers.keys()])) {
      this.queueTransition(partition, () => this.stepDown(partition));
    }
  }

  /** The replicated log of a partition this node leads, for the replication server. */
  leaderLog(partition: number): ReplicatedCommitLog | undefined {
    const log = this.engines.get(partition)?.commitLog;
    return log instanceof ReplicatedCommitLog ? log : undefined;
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
    if (this.closed || !this.store.health.writable || this.store.writes.groups === this.checkpointedAt) return;
    this.checkpointedAt = this.store.writes.groups;
    this.store.checkpointer.request();
  }

  /** Compaction and dedup expiry, in the background, in their own transactions. */
  private maintain(): void {
    // A disk that refuses writes would refuse these too, every 100 ms: the probe says when to resume.
    if (this.closed || !this.store.health.writable) return;
    const now = Date.now();
    void this.store.writes
      .submit(() => {
        let removed = 0;
        for (const engine of this.engines.values()) removed += this.store.compact(engine.partition, engine.compactionFloor(), now);
        for (const follower of this.followers.values()) removed += this.store.compact(follower.partition, follower.compactionFloor(), now);
        removed += this.store.expireDedup(now - this.options.config.dedupWindowMs);
        return removed;
      }, { durable: false })
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
    if (this.fenceTimer) clearTimeout(this.fenceTimer);
    for (const engine of this.engines.values()) engine.close();
    this.engines.clear();
    await Promise.all([...this.followers.values()].map((follower) => follower.close()));
    this.followers.clear();
    await Promise.all(this.transitions.values());
    await this.store.close();
  }
}
