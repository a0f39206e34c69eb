import type { Coordinator, PartitionState } from '../coordination/coordinator';
import type { LogEntry, StoredEntry } from '../core/entries';
import { MomError } from '../core/errors';
import type { AckMode, AppliedListener, CommitLog } from './commit-log';
import type { FetchResult, FetchSource, FollowerFetch } from '../replication/fetch-source';
import type { Logger } from '../runtime/logger';
import type { NodeStore } from '../store/node-store';
import { CommitWaiters } from './commit-waiters';
import { decideIsr, type FollowerProgress } from './isr-policy';
import { RecentEntries } from './recent-entries';

export interface ReplicatedCommitLogOptions {
  store: NodeStore;
  coordinator: Coordinator;
  state: PartitionState;
  nodeId: string;
  minInsyncReplicas: number;
  replicaLagMaxMs: number;
  /** The ZooKeeper session timeout (see isr-policy.ts: when silent followers must be alive). */
  sessionTimeoutMs: number;
  logger: Logger;
  /** Called when this log finds it no longer leads (a CAS showed another leader or epoch). */
  onDeposed: () => void;
  /**
   * Whether a node is registered with the coordinator. One that is not (its session ended, or
   * it withdrew because its disk refuses writes) is not taken back into the ISR, however far
   * it fetched: the controller drops such nodes from every ISR (DESIGN §5).
   */
  isLive: (nodeId: string) => boolean;
}

/** See ReplicatedCommitLog.replicationStatus. */
export interface ReplicationStatus {
  highWatermark: number;
  logEnd: number;
  isrSize: number;
  replicas: number;
  followers: Array<{ id: string; inSync: boolean; lagEntries: number; lagMs: number }>;
}

const ISR_CHECK_MS = 200;
/**
 * Recent entries kept in memory per led partition for follower fetches (in-sync followers are
 * a few ms behind; one further back reads the store). Small on purpose: entries held longer
 * than a young-generation GC cycle get copied and promoted, and a ring of 4,096 (a third of
 * a second at the benchmark's rate) cost about 4% of cluster throughput in GC work.
 */
const TAIL_ENTRIES = 1_024;
// Below the gateway's default retry deadline (10 s), so a stuck commit answers before the gateway gives up.
const COMMIT_TIMEOUT_MS = 8_000;
/** Pause before applying again after an apply the store refused. */
const APPLY_RETRY_MS = 200;

/**
 * A partition's log on its leader, replicated by followers that fetch (DESIGN §5). An entry
 * is committed when every ISR member has it and the ISR has at least min_insync_replicas
 * members; the high watermark (HW) is the committed offset, and only entries below it are
 * applied, so consumers never see anything above it. One concept past 350 lines: the HW,
 * the ISR and the followers' progress are one state that must change together.
 */
export class ReplicatedCommitLog implements CommitLog, FetchSource {
  readonly partition: number;
  readonly epoch: number;
  private listener: AppliedListener = () => {};
  private hw: number;
  private durableEnd: number;
  private epochStart = 0;
  private readonly tail = new RecentEntries(TAIL_ENTRIES);
  private started = false;
  private isr: string[];
  private replicas: string[];
  private stateVersion: number;
  private readonly followers = new Map<string, FollowerProgress>();
  private readonly waiters = new CommitWaiters();
  private dataWaiters = new Set<() => void>();
  private applying = false;
  private applyAgain = false;
  private isrChangeInFlight = false;
  /** Set while this leader steps down (see resign): no new write is taken. */
  private resigning = false;
  private readonly leaderSince = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private applyRetryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: ReplicatedCommitLogOptions) {
    const { state, store } = options;
    this.partition = state.partition;
    this.epoch = state.leaderEpoch;
    this.isr = [...state.isr];
    this.replicas = [...state.replicas];
    this.stateVersion = state.version;
    this.hw = store.position(this.partition).applied;
    this.durableEnd = store.position(this.partition).logEnd;
  }

  private get minIsr(): number {
    // A partition with fewer replicas than min ISR could never commit; cap it at the replica count.
    return Math.min(this.options.minInsyncReplicas, this.replicas.length);
  }

  async start(): Promise<void> {
    const { store, nodeId } = this.options;
    const entries: LogEntry[] = [{ type: 'epoch.start', nodeId }];
    const first = await store.writes.submit(() => {
      this.epochStart = store.position(this.partition).logEnd;
      store.recordEpochStart(this.partition, this.epoch, this.epochStart);
      return store.append(this.partition, this.epoch, entries);
    });
    // Only once stored: followers are served from this tail, and must never get an entry the
    // leader does not hold.
    this.tail.add(first, this.epoch, entries);
    this.durableEnd = Math.max(this.durableEnd, first + entries.length);
    this.started = true;
    this.timer = setInterval(() => this.checkIsr(), ISR_CHECK_MS);
    this.timer.unref();
    this.advanceHighWatermark();
  }

  onApplied(listener: AppliedListener): void {
    this.listener = listener;
  }

  async commit(entries: LogEntry[], acks: AckMode): Promise<number> {
    this.ensureLeading();
    if (this.isr.length < this.minIsr) throw this.notEnoughReplicas();
    const { store } = this.options;
    // Followers may fetch as soon as the entries are committed; the leader's own sync runs
    // meanwhile, and the high watermark counts the leader only once that sync is done.
    const first = await store.writes.submit(() => store.append(this.partition, this.epoch, entries), { durable: false });
    const end = first + entries.length;
    this.tail.add(first, this.epoch, entries);
    this.wakeFetchers();
    await store.writes.whenDurable();
    this.durableEnd = Math.max(this.durableEnd, end);
    this.advanceHighWatermark();
    if (acks === 'leader') return first;
    if (store.position(this.partition).applied >= end) return first;
    this.ensureLeading();
    await this.waiters.wait(
      end,
      COMMIT_TIMEOUT_MS,
      () => new MomError('timeout', `partition ${this.partition}: replicas did not confirm within ${COMMIT_TIMEOUT_MS} ms; the write may or may not be stored (retry with an id)`),
    );
    return first;
  }

  /** A follower's fetch: validates its epoch and log, records its progress, returns what it lacks. */
  async handleFetch(request: FollowerFetch): Promise<FetchResult> {
    this.ensureLeading();
    const { store } = this.options;
    if (request.leaderEpoch !== this.epoch) {
      throw new MomError('stale_epoch', `partition ${this.partition}: fetch for leader epoch ${request.leaderEpoch}, but this leader's epoch is ${this.epoch}`);
    }
    if (!this.replicas.includes(request.followerId)) {
      throw new MomError('forbidden', `node ${request.followerId} is not a replica of partition ${this.partition}`);
    }
    const logEnd = store.position(this.partition).logEnd;
    // A follower whose last entry's epoch ended earlier here, or whose log runs past ours,
    // holds entries no leader committed: it truncates to where that epoch ends (DESIGN §5).
    if (request.fetchOffset > 0) {
      const end = store.epochEndOffset(this.partition, request.lastFetchedEpoch);
      if (end.epoch !== request.lastFetchedEpoch || end.endOffset < request.fetchOffset || request.fetchOffset > logEnd) {
        return { entries: [], highWatermark: this.hw, compactBelow: this.compactionFloor(), diverging: { epoch: end.epoch, endOffset: Math.min(end.endOffset, logEnd) } };
      }
    }
    const now = Date.now();
    const progress = this.followers.get(request.followerId) ?? { fetchOffset: 0, lastCaughtUpAt: 0, lastFetchAt: 0 };
    progress.fetchOffset = request.fetchOffset;
    progress.lastFetchAt = now;
    if (request.fetchOffset >= this.durableEnd) progress.lastCaughtUpAt = now;
    this.followers.set(request.followerId, progress);
    this.advanceHighWatermark();
    let entries = this.read(request.fetchOffset, request.maxEntries);
    if (entries.length === 0 && request.maxWaitMs > 0 && !this.closed) {
      await this.waitForData(request.maxWaitMs);
      if (this.closed) this.ensureLeading();
      entries = this.read(request.fetchOffset, request.maxEntries);
    }
    return { entries, highWatermark: this.hw, compactBelow: this.compactionFloor() };
  }

  /** Followers mostly ask for what was just appended: served from memory, older entries from the store. */
  private read(fromOffset: number, maxEntries: number): StoredEntry[] {
    return this.tail.read(fromOffset, maxEntries) ?? this.options.store.readLog(this.partition, fromOffset, maxEntries);
  }

  /** Entries committed in earlier epochs precede this epoch's first entry: once that is applied, all of them are. */
  notReady(): MomError | undefined {
    if (this.started && this.options.store.position(this.partition).applied > this.epochStart) return undefined;
    if (this.isr.length < this.minIsr) return this.notEnoughReplicas();
    return new MomError('unavailable', `partition ${this.partition}: this node just became its leader and is catching up on committed entries; retry shortly`);
  }

  /** Every replica's known position bounds compaction: a lagging one must still find its entries. */
  compactionFloor(): number {
    let floor = this.hw;
    for (const replica of this.replicas) {
      if (replica === this.options.nodeId) continue;
      floor = Math.min(floor, this.followers.get(replica)?.fetchOffset ?? 0);
    }
    return floor;
  }

  /** A newer copy of this partition's state (our own ISR writes come back through the watch too). */
  updateState(state: PartitionState): void {
    if (state.version <= this.stateVersion) return;
    if (state.leader !== this.options.nodeId || state.leaderEpoch !== this.epoch) return;
    this.stateVersion = state.version;
    this.isr = [...state.isr];
    this.replicas = [...state.replicas];
    this.advanceHighWatermark();
  }

  inSyncReplicas(): readonly string[] {
    return this.isr;
  }

  /**
   * Where replication stands, for /metrics: the high watermark, the leader's durable log end,
   * and each follower's lag behind it in entries and in time (since it last had everything;
   * 0 while it has). A follower that never fetched in this epoch counts from the epoch's start.
   */
  replicationStatus(now = Date.now()): ReplicationStatus {
    const followers = this.replicas
      .filter((replica) => replica !== this.options.nodeId)
      .map((id) => {
        const progress = this.followers.get(id);
        const fetchOffset = progress?.fetchOffset ?? 0;
        const caughtUp = fetchOffset >= this.durableEnd;
        return {
          id,
          inSync: this.isr.includes(id),
          lagEntries: Math.max(0, this.durableEnd - fetchOffset),
          lagMs: caughtUp ? 0 : Math.max(0, now - (progress?.lastCaughtUpAt || this.leaderSince)),
        };
      });
    return { highWatermark: this.hw, logEnd: this.durableEnd, isrSize: this.isr.length, replicas: this.replicas.length, followers };
  }

  private advanceHighWatermark(): void {
    if (this.closed || this.isr.length < this.minIsr) return;
    let candidate = this.durableEnd;
    for (const member of this.isr) {
      if (member === this.options.nodeId) continue;
      candidate = Math.min(candidate, this.followers.get(member)?.fetchOffset ?? this.hw);
    }
    if (candidate <= this.hw) return;
    this.hw = candidate;
    this.applyCommitted();
  }

  /** Applies entries up to the HW, one apply at a time, then answers the commits it covers. */
  private applyCommitted(): void {
    if (this.applying) {
      this.applyAgain = true;
      return;
    }
    this.applying = true;
    const { store } = this.options;
    const target = this.hw;
    store.writes
      // Applied state is derived: after a crash it is rebuilt from the (durable) log, so
      // applying need not wait for its own sync.
      .submit(() => store.applyUpTo(this.partition, target, (from, max) => this.tail.read(from, max)), { durable: false, immediate: true })
      .then((effects) => {
        if (!this.closed) this.listener(effects);
        this.waiters.resolveUpTo(store.position(this.partition).applied);
      })
      .catch((error: unknown) => {
        // Rolled back, `applied` with it: the same entries are applied again, never skipped.
        // Their producers wait (and get 504 past the commit timeout), never a 201 meanwhile.
        this.options.logger.error('applying committed entries failed; retrying', { partition: this.partition, error });
        this.retryApplyLater();
      })
      .finally(() => {
        this.applying = false;
        if (this.applyAgain) {
          this.applyAgain = false;
          this.applyCommitted();
        }
      });
  }

  private retryApplyLater(): void {
    if (this.closed || this.applyRetryTimer) return;
    this.applyRetryTimer = setTimeout(() => {
      this.applyRetryTimer = undefined;
      if (!this.closed) this.applyCommitted();
    }, APPLY_RETRY_MS);
  }

  /** Shrinks the ISR by followers that fell behind, grows it by those that caught up, or steps down (isr-policy.ts). */
  private checkIsr(): void {
    if (this.closed || this.isrChangeInFlight) return;
    const { nodeId, replicaLagMaxMs, sessionTimeoutMs, isLive } = this.options;
    const decision = decideIsr(
      { nodeId, isr: this.isr, replicas: this.replicas, minIsr: this.minIsr, highWatermark: this.hw, epochStart: this.epochStart, leaderSince: this.leaderSince, replicaLagMaxMs, sessionTimeoutMs, followers: this.followers, isLive },
      Date.now(),
    );
    if (decision.kind === 'change') void this.writeIsr(decision.isr);
    else if (decision.kind === 'resign') void this.resign(decision.isr);
  }

  /**
   * Steps down (the fault suite's scenario 5): writes the partition leaderless with an ISR of
   * the other members, which hold every committed entry (the HW only moved with their
   * fetches), so the controller elects one of them at once, with a new epoch that fences
   * this node. Writes stop here first; an appended, uncommitted one is answered "may or may
   * not be stored", as when leadership moves any other way.
   */
  private async resign(others: string[]): Promise<void> {
    this.isrChangeInFlight = true;
    const { coordinator, nodeId, logger } = this.options;
    this.resigning = true;
    try {
      const written = await coordinator.casPartition({ partition: this.partition, replicas: this.replicas, leader: null, leaderEpoch: this.epoch, isr: others }, this.stateVersion);
      if (written) {
        logger.warn('resigned leadership: no in-sync follower has reached this node within the lag bound while all are registered; they lead without it', {
          partition: this.partition,
          epoch: this.epoch,
          isr: others,
        });
        this.waiters.failAll(maybeStored(this.partition, 'the leader resigned'));
        this.options.onDeposed();
        return;
      }
      this.resigning = false;
      const current = await coordinator.getPartition(this.partition);
      if (!current || current.leader !== nodeId || current.leaderEpoch !== this.epoch) {
        this.options.onDeposed();
        return;
      }
      this.updateState(current);
    } catch (error) {
      this.resigning = false;
      logger.warn('resigning leadership failed; will decide again', { partition: this.partition, error });
    } finally {
      this.isrChangeInFlight = false;
    }
  }

  /** An ISR change takes effect only once its CAS write succeeds (DESIGN §4, Kafka's rule). */
  private async writeIsr(next: string[]): Promise<void> {
    this.isrChangeInFlight = true;
    const { coordinator, nodeId, logger } = this.options;
    try {
      const written = await coordinator.casPartition(
        { partition: this.partition, replicas: this.replicas, leader: nodeId, leaderEpoch: this.epoch, isr: next },
        this.stateVersion,
      );
      if (written) {
        logger.info('ISR changed', { partition: this.partition, from: this.isr, to: next, epoch: this.epoch });
        this.stateVersion = written.version;
        this.isr = [...written.isr];
        // Already appended: "not enough replicas" would tell the gateway nothing was stored.
        if (this.isr.length < this.minIsr) this.waiters.failAll(maybeStored(this.partition, `the ISR shrank below min_insync_replicas ${this.minIsr}`));
        this.advanceHighWatermark();
        return;
      }
      const current = await coordinator.getPartition(this.partition);
      if (!current || current.leader !== nodeId || current.leaderEpoch !== this.epoch) {
        logger.warn('lost leadership while changing the ISR', { partition: this.partition, epoch: this.epoch });
        this.options.onDeposed();
        return;
      }
      this.updateState(current);
    } catch (error) {
      logger.warn('ISR write failed; will retry', { partition: this.partition, error });
    } finally {
      this.isrChangeInFlight = false;
    }
  }

  private waitForData(maxWaitMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.dataWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, maxWaitMs);
      this.dataWaiters.add(done);
    });
  }

  private wakeFetchers(): void {
    for (const wake of [...this.dataWaiters]) wake();
  }

  private notEnoughReplicas(): MomError {
    return new MomError(
      'not_enough_replicas',
      `partition ${this.partition} has ${this.isr.length} in-sync replica(s), fewer than min_insync_replicas ${this.minIsr}; refusing to acknowledge writes`,
    );
  }

  private ensureLeading(): void {
    if (this.closed || this.resigning) throw new MomError('unavailable', `partition ${this.partition} is no longer led here; retry`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.applyRetryTimer) clearTimeout(this.applyRetryTimer);
    this.waiters.failAll(maybeStored(this.partition, 'leadership moved'));
    this.wakeFetchers();
  }
}

/**
 * A write that was appended but not committed: it may still become committed under the next
 * leader. `timeout` (504), unlike `unavailable`, tells the gateway and SDK not to resend a
 * publish that carries no producer id.
 */
function maybeStored(partition: number, why: string): MomError {
  return new MomError('timeout', `partition ${partition}: ${why} before the write was replicated; it may or may not be stored (retry with an id)`);
}
