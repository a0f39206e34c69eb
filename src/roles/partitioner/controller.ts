/**
 * The cluster controller (DESIGN §4). It runs inside the partitioner role; several may run,
 * and the one that wins `coordinator.campaign()` acts while the others stand by. The active
 * controller reconciles the partition map with the live nodes on election and on every
 * change of either:
 *
 * - creates missing partitions 0..P-1 once RF nodes are registered, or fewer once a grace
 *   period has passed since the first one (placement.ts);
 * - replaces a dead leader with a live ISR member, or takes the partition offline;
 * - drops unregistered nodes (dead, or withdrawn for a failed disk) from every ISR;
 * - gives an offline partition a leader again when an ISR member comes back.
 *
 * Every write carries the controller-epoch fence, so a deposed controller cannot overwrite
 * its successor, and is a compare-and-set on the partition's version: on a conflict (a
 * leader changed its ISR meanwhile) it reads again and decides again, a bounded number of
 * times; the change that beat it fires the partitions watch, which brings another pass.
 */
import type { ControllerElection, Coordinator, PartitionState, Unsubscribe } from '../../coordination/coordinator';
import { isMomError, MomError } from '../../core/errors';
import type { Logger } from '../../runtime/logger';
import { decideLeadership, initialAssignment } from './placement';

export interface ControllerOptions {
  coordinator: Coordinator;
  /** This candidate's id in the election, e.g. the partitioner's node id. */
  candidateId: string;
  /** The partition count proposed if the cluster is new (ensureCluster decides). */
  partitions: number;
  /** Replicas per partition, capped at the live node count when a partition is created. */
  replicationFactor: number;
  /** Elect a replica outside the ISR when no ISR member is alive (may lose data). Default false. */
  uncleanElection?: boolean;
  /** Live nodes needed before partitions are created; default the replication factor. */
  minNodesToPlace?: number;
  /** After the first node registers, place with fewer than minNodesToPlace once this has passed; default 5 s. */
  placementGraceMs?: number;
  logger: Logger;
  /** Pause before a pass that failed (ZooKeeper away) runs again; default 500 ms. */
  retryDelayMs?: number;
}

export interface ControllerStatus {
  candidateId: string;
  /** Whether this process is the active controller right now. */
  active: boolean;
  /** The controller epoch this process won, while active. */
  controllerEpoch: number | null;
}

type Phase = 'new' | 'running' | 'closed';

const CAS_ATTEMPTS = 5;
const DEFAULT_RETRY_DELAY_MS = 500;

export class Controller {
  private readonly coordinator: Coordinator;
  private readonly log: Logger;
  private readonly uncleanElection: boolean;
  private readonly minNodesToPlace: number;
  private readonly placementGraceMs: number;
  private firstNodeSeenAt: number | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private readonly retryDelayMs: number;
  private phase: Phase = 'new';
  private partitionCount = 0;
  private election: ControllerElection | undefined;
  /** Set while this process is the active controller. */
  private epoch: number | undefined;
  private readonly watches: Unsubscribe[] = [];
  private unsubscribeDeposed: Unsubscribe | undefined;
  private pass: Promise<void> | undefined;
  private again = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: ControllerOptions) {
    if (!Number.isSafeInteger(options.replicationFactor) || options.replicationFactor < 1) {
      throw new MomError('config_invalid', `replication factor: expected a positive integer, got ${options.replicationFactor}`);
    }
    this.coordinator = options.coordinator;
    this.uncleanElection = options.uncleanElection ?? false;
    // Nodes of a new cluster register one by one: wait for RF of them, or for the grace period
    // after the first one, so replicas are not all piled on whichever node came first.
    this.minNodesToPlace = Math.max(1, options.minNodesToPlace ?? options.replicationFactor);
    this.placementGraceMs = options.placementGraceMs ?? 5_000;
    this.retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
    this.log = options.logger.child({ component: 'controller', candidate: options.candidateId });
  }

  /** Reads the cluster settings and enters the election; resolves without waiting to win it. */
  async start(): Promise<void> {
    if (this.phase !== 'new') throw new MomError('unavailable', 'controller already started or closed');
    this.phase = 'running';
    this.partitionCount = (await this.coordinator.ensureCluster({ partitions: this.options.partitions })).partitions;
    if (this.isClosed()) return;
    this.campaign();
  }

  status(): ControllerStatus {
    const active = this.epoch !== undefined;
    return { candidateId: this.options.candidateId, active, controllerEpoch: this.epoch ?? null };
  }

  /** Resolves once no reconcile pass is running or scheduled (for tests and shutdown). */
  whenIdle(): Promise<void> {
    if (!this.pass && !this.retryTimer) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops acting and withdraws from the election, letting a pass in flight finish. Idempotent. */
  async close(): Promise<void> {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.stopActing();
    const election = this.election;
    this.election = undefined;
    await this.pass?.catch(() => {});
    await election?.resign();
    this.wakeIdle();
  }

  // ---- election -------------------------------------------------------------------------

  private campaign(): void {
    const election = this.coordinator.campaign(this.options.candidateId);
    this.election = election;
    election.elected.then(
      (epoch) => this.becomeActive(election, epoch),
      () => {}, // resigned or the coordinator closed: nothing to do
    );
  }

  private becomeActive(election: ControllerElection, epoch: number): void {
    if (this.isClosed() || this.election !== election) return;
    this.epoch = epoch;
    this.log.info('active controller', { controllerEpoch: epoch, partitions: this.partitionCount });
    this.unsubscribeDeposed = election.onDeposed(() => this.deposed(election, 'the ZooKeeper session expired'));
    // Watches fire now and on every change; each only schedules a pass, which reads afresh.
    this.watches.push(
      this.coordinator.watchNodes(() => this.schedule()),
      this.coordinator.watchPartitions(() => this.schedule()),
    );
    this.schedule();
  }

  /** Leadership lost: stop writing at once, then stand in the queue again. */
  private deposed(election: ControllerElection, reason: string): void {
    if (this.election !== election) return;
    this.log.warn('controller deposed; standing by again', { controllerEpoch: this.epoch, reason });
    this.stopActing();
    this.election = undefined;
    void election.resign();
    if (!this.isClosed()) this.campaign();
  }

  private stopActing(): void {
    this.epoch = undefined;
    for (const unsubscribe of this.watches.splice(0)) unsubscribe();
    this.unsubscribeDeposed?.();
    this.unsubscribeDeposed = undefined;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.again = false;
  }

  private isClosed(): boolean {
    return this.phase === 'closed';
  }

  // ---- reconcile passes -----------------------------------------------------------------

  /** Runs a pass now, or once more after the running one (changes during a pass are not lost). */
  private schedule(): void {
    if (this.epoch === undefined || this.isClosed()) return;
    if (this.pass) {
      this.again = true;
      return;
    }
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    this.again = false;
    const election = this.election!;
    const epoch = this.epoch;
    this.pass = this.reconcile(election, epoch)
      .then(
        () => undefined,
        (error: unknown) => this.passFailed(election, epoch, error),
      )
      .finally(() => {
        this.pass = undefined;
        if (this.again) this.schedule();
        else this.wakeIdle();
      });
  }

  private passFailed(election: ControllerElection, epoch: number, error: unknown): void {
    if (this.epoch !== epoch || this.election !== election) return;
    if (isMomError(error) && error.code === 'stale_epoch') {
      // The fence refused us: another controller was elected (DESIGN §4).
      this.deposed(election, 'a write was refused by the controller-epoch fence');
      return;
    }
    this.log.warn('controller pass failed; retrying', { error: error as Error, retryInMs: this.retryDelayMs });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.schedule();
    }, this.retryDelayMs);
  }

  private wakeIdle(): void {
    if (this.pass || this.retryTimer) return;
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private stillActive(election: ControllerElection, epoch: number): boolean {
    return !this.isClosed() && this.election === election && this.epoch === epoch && election.isLeader();
  }

  private mayPlace(liveCount: number): boolean {
    if (liveCount === 0) return false;
    if (liveCount >= this.minNodesToPlace) return true;
    const now = Date.now();
    this.firstNodeSeenAt ??= now;
    const waited = now - this.firstNodeSeenAt;
    if (waited >= this.placementGraceMs) return true;
    if (!this.graceTimer) {
      this.graceTimer = setTimeout(() => {
        this.graceTimer = undefined;
        this.schedule();
      }, this.placementGraceMs - waited);
      this.graceTimer.unref();
    }
    return false;
  }

  private async reconcile(election: ControllerElection, epoch: number): Promise<void> {
    const nodes = await this.coordinator.listNodes();
    const live = new Set(nodes.map((node) => node.id));
    const states = new Map((await this.coordinator.listPartitions()).map((state) => [state.partition, state]));
    const fence = { controllerEpoch: epoch };

    for (let partition = 0; partition < this.partitionCount; partition++) {
      if (!this.stillActive(election, epoch)) return;
      const state = states.get(partition);
      if (state) {
        await this.settleLeadership(state, live, fence, election, epoch);
        continue;
      }
      if (!this.mayPlace(live.size)) continue;
      const assignment = initialAssignment(partition, [...live], this.options.replicationFactor);
      if (!assignment) continue;
      if (await this.coordinator.createPartition(assignment, fence)) {
        this.log.info('partition created', { partition, replicas: assignment.replicas, leader: assignment.leader });
      } else {
        // Created meanwhile (the partitions watch brings it), or its znode holds data that the
        // listing skips: not retried in a loop, which would only hammer ZooKeeper.
        this.log.warn('partition already exists; leaving it as it is', { partition });
      }
    }
  }

  /** Decides and writes one partition's leadership, re-reading on CAS conflicts (bounded). */
  private async settleLeadership(
    initial: PartitionState,
    live: ReadonlySet<string>,
    fence: { controllerEpoch: number },
    election: ControllerElection,
    epoch: number,
  ): Promise<void> {
    let state: PartitionState | undefined = initial;
    for (let attempt = 1; state && attempt <= CAS_ATTEMPTS; attempt++) {
      if (!this.stillActive(election, epoch)) return;
      const decision = decideLeadership(state, live, { uncleanElection: this.uncleanElection });
      if (!decision) return;
      const written = await this.coordinator.casPartition(decision.next, state.version, fence);
      if (written) {
        const fields = {
          partition: state.partition,
          change: decision.change,
          from: state.leader,
          leader: written.leader,
          leaderEpoch: written.leaderEpoch,
          isr: written.isr,
        };
        if (decision.change === 'unclean') this.log.warn('unclean leader election: acknowledged messages may be lost', fields);
        else if (decision.change === 'offline') this.log.warn('partition offline: no live ISR member', fields);
        else if (decision.change === 'isr_shrink') this.log.info('unregistered nodes left the ISR', { ...fields, from: state.isr });
        else this.log.info('partition leader changed', fields);
        return;
      }
      // CAS conflict: the state moved (a leader wrote its ISR); decide again on what is there now.
      state = await this.coordinator.getPartition(initial.partition);
    }
    // Whoever keeps writing it fires the partitions watch, which brings another pass.
    if (state) this.log.warn('partition kept changing under the controller; deciding again on its next change', { partition: initial.partition });
  }
}
