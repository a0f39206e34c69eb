import type { Coordinator, NodeInfo, PartitionState } from '../../coordination/coordinator';
import { MomError } from '../../core/errors';
import { PartitionFollower } from '../../log/partition-follower';
import type { ReplicatedCommitLog } from '../../log/replicated-commit-log';
import type { ReplicationPeers } from '../../replication/replication-client';
import type { Logger } from '../../runtime/logger';
import type { NodeStore } from '../../store/node-store';
import type { CommitLogFactory } from './commit-log-factory';
import type { UnreadBudget } from './engine/inbox-delivery';
import { PartitionEngine } from './engine/partition-engine';

export interface ReplicaManagerOptions {
  nodeId: string;
  store: NodeStore;
  coordinator: Coordinator;
  logger: Logger;
  /** Builds the commit log of a partition this node starts to lead. */
  commitLogs: CommitLogFactory;
  /** Clients of other nodes' replicators; absent on a single node, which follows nothing. */
  peers: ReplicationPeers | undefined;
  dedupWindowMs: number;
  unreadBudget: UnreadBudget;
}

/** Why this node leads and follows nothing right now (DESIGN §4, §5). */
export type FenceReason = 'session' | 'storage';

/**
 * This node's part in each partition, kept in line with the partition map: leader (an engine
 * over a commit log), follower (a fetcher from the leader), or nothing. Named after Kafka's
 * ReplicaManager, which does the same on a broker. Each partition's changes run one after
 * another, never interleaved; a fence (session lost, disk failing) steps down from all.
 */
export class ReplicaManager {
  private readonly engines = new Map<number, PartitionEngine>();
  private readonly followers = new Map<number, PartitionFollower>();
  private readonly transitions = new Map<number, Promise<void>>();
  /** Per partition, the role a queued or running transition is taking (see reconcile). */
  private readonly transitionTargets = new Map<number, string>();
  private partitions = new Map<number, PartitionState>();
  private nodes = new Map<string, NodeInfo>();
  private readonly fences = new Set<FenceReason>();
  private closed = false;

  constructor(private readonly options: ReplicaManagerOptions) {}

  get fenced(): boolean {
    return this.fences.size > 0;
  }

  isFenced(reason: FenceReason): boolean {
    return this.fences.has(reason);
  }

  engine(partition: number): PartitionEngine | undefined {
    return this.engines.get(partition);
  }

  allEngines(): PartitionEngine[] {
    return [...this.engines.values()];
  }

  allFollowers(): PartitionFollower[] {
    return [...this.followers.values()];
  }

  partitionState(partition: number): PartitionState | undefined {
    return this.partitions.get(partition);
  }

  node(id: string): NodeInfo | undefined {
    return this.nodes.get(id);
  }

  isRegistered(id: string): boolean {
    return this.nodes.has(id);
  }

  /** The replicated log of a partition this node leads, for the replication server. */
  leaderLog(partition: number): ReplicatedCommitLog | undefined {
    const log = this.engines.get(partition)?.commitLog;
    return log !== undefined && 'handleFetch' in log ? (log as ReplicatedCommitLog) : undefined;
  }

  onNodes(nodes: NodeInfo[]): void {
    this.nodes = new Map(nodes.map((node) => [node.id, node]));
    this.reconcile();
  }

  onPartitionMap(states: PartitionState[]): void {
    this.partitions = new Map(states.map((state) => [state.partition, state]));
    this.reconcile();
  }

  /** Stops leading and following every partition until `unfence(reason)`. Idempotent. */
  fence(reason: FenceReason, why: string): void {
    if (this.fences.has(reason)) return;
    this.fences.add(reason);
    this.transitionTargets.clear();
    this.options.logger.warn('stopped leading every partition', { reason: why });
    for (const partition of new Set([...this.engines.keys(), ...this.followers.keys()])) {
      this.queueTransition(partition, () => this.stepDown(partition));
    }
  }

  /** Lifts a fence; once none is left, leads and follows again from the current map. */
  unfence(reason: FenceReason): void {
    if (!this.fences.delete(reason)) return;
    this.transitionTargets.clear(); // whatever was on its way saw the fence: decide afresh
    this.reconcile();
  }

  /** Resolves once every queued leadership change has run. */
  async settled(): Promise<void> {
    await Promise.all(this.transitions.values());
  }

  /** Brings each partition's local role (leader, follower, nothing) in line with the map. */
  private reconcile(): void {
    if (this.closed) return;
    for (const state of this.partitions.values()) this.reconcilePartition(state);
  }

  private reconcilePartition(state: PartitionState): void {
    const { nodeId } = this.options;
    const p = state.partition;
    const engine = this.engines.get(p);
    const follower = this.followers.get(p);
    const leads = state.leader === nodeId && !this.fenced;
    const follows = !leads && !this.fenced && state.leader !== null && state.replicas.includes(nodeId);
    if (leads && engine?.epoch === state.leaderEpoch) {
      engine.commitLog.updateState?.(state);
      return;
    }
    const leaderAddress = follows ? this.nodes.get(state.leader!)?.grpc : undefined;
    // The leader's address counts too: a leader restarted before its old session expired
    // takes a new epoch while the old registration (old gRPC port) is still what we see.
    if (follows && follower?.leaderEpoch === state.leaderEpoch && follower.leaderId === state.leader && follower.leaderAddress === leaderAddress && !engine) return;
    if (!leads && !follows && !engine && !follower) return;
    if (follows && !leaderAddress && !engine && !follower) return; // the leader's registration will arrive
    // Every map or node event reconciles, and a failover brings several in a row (one per
    // partition the controller writes): the same change must not be queued again while it
    // is on its way, or the engine just created is closed and created once more (its first
    // epoch entry then looks like a restart and costs a needless epoch bump).
    const target = leads ? `lead ${state.leaderEpoch}` : follows ? `follow ${state.leader} ${state.leaderEpoch} ${leaderAddress ?? ''}` : 'none';
    if (this.transitionTargets.get(p) === target) return;
    this.transitionTargets.set(p, target);
    this.queueTransition(p, () =>
      this.takeRole(p).finally(() => {
        if (this.transitionTargets.get(p) === target) this.transitionTargets.delete(p);
      }),
    );
  }

  /** Steps down from whatever this node does for `partition`, then takes what the latest map says. */
  private async takeRole(partition: number): Promise<void> {
    await this.stepDown(partition);
    const latest = this.partitions.get(partition);
    if (this.closed || this.fenced || !latest) return;
    if (latest.leader === this.options.nodeId) {
      await this.lead(latest);
      return;
    }
    const address = latest.leader ? this.nodes.get(latest.leader)?.grpc : undefined;
    if (latest.leader && address && latest.replicas.includes(this.options.nodeId) && this.options.peers) {
      await this.follow(latest, latest.leader, address, this.options.peers);
    }
  }

  private async lead(state: PartitionState): Promise<void> {
    const { store, coordinator, logger } = this.options;
    const partition = state.partition;
    if (store.lastEpoch(partition) >= state.leaderEpoch && coordinator.kind === 'zookeeper') {
      // This node already wrote in this epoch before it restarted: leading it again could
      // reuse offsets its followers hold with other entries. A new epoch fences them.
      await this.bumpOwnEpoch(state);
      return;
    }
    const log = await this.options.commitLogs(partition, state, () => this.queueTransition(partition, () => this.stepDown(partition)));
    if (this.closed || this.fenced) {
      await log.close();
      return;
    }
    this.engines.set(partition, new PartitionEngine(store, log, { dedupWindowMs: this.options.dedupWindowMs, logger, unreadBudget: this.options.unreadBudget }));
    // Leadership changes are news in a cluster; a single replica leads everything from the start.
    const level = state.replicas.length > 1 ? 'info' : 'debug';
    logger[level]('leading partition', { partition, epoch: state.leaderEpoch, isr: state.isr });
  }

  private async follow(state: PartitionState, leader: string, address: string, peers: ReplicationPeers): Promise<void> {
    const follower = new PartitionFollower({
      store: this.options.store,
      peers,
      partition: state.partition,
      nodeId: this.options.nodeId,
      leaderId: leader,
      leaderAddress: address,
      leaderEpoch: state.leaderEpoch,
      logger: this.options.logger,
    });
    this.followers.set(state.partition, follower);
    await follower.start();
    this.options.logger.debug('following partition', { partition: state.partition, leader, epoch: state.leaderEpoch });
  }

  private async bumpOwnEpoch(state: PartitionState): Promise<void> {
    const next = { partition: state.partition, replicas: state.replicas, leader: this.options.nodeId, leaderEpoch: state.leaderEpoch + 1, isr: state.isr };
    const written = await this.options.coordinator.casPartition(next, state.version);
    this.options.logger.info('restarted leader takes a new epoch', { partition: state.partition, epoch: next.leaderEpoch, written: written !== undefined });
    // The watch brings the new state (or whatever won the race) and leads from there.
  }

  private async stepDown(partition: number): Promise<void> {
    const engine = this.engines.get(partition);
    if (engine) {
      this.engines.delete(partition);
      await engine.close();
    }
    const follower = this.followers.get(partition);
    if (follower) {
      this.followers.delete(partition);
      await follower.close();
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

  /** A 421 naming the partition's leader, or why there is none to name. */
  notLeader(partition: number): MomError {
    const state = this.partitions.get(partition);
    const leader = state?.leader ?? null;
    const location = leader ? this.nodes.get(leader)?.http ?? null : null;
    if (leader === this.options.nodeId && this.fences.has('storage')) {
      return this.options.store.health.refusal() ?? new MomError('unavailable', `partition ${partition} is moving to another node; retry shortly`);
    }
    // Named as leader but not leading (fenced, or between steps): pointing at itself would loop the gateway.
    if (!leader || !location || leader === this.options.nodeId) {
      return new MomError('unavailable', `partition ${partition} has no leader right now; retry shortly`, { details: { partition } });
    }
    return new MomError('not_leader', `node ${this.options.nodeId} does not lead partition ${partition}; its leader is ${leader} at ${location}`, {
      details: { partition, leader, node_location: location, leader_epoch: state?.leaderEpoch ?? 0 },
    });
  }

  /** Stops every engine and follower and waits for the changes in flight. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.engines.values()].map((engine) => engine.close()));
    this.engines.clear();
    await Promise.all([...this.followers.values()].map((follower) => follower.close()));
    this.followers.clear();
    await this.settled();
  }
}
