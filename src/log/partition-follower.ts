import { MomError } from '../core/errors';
import type { Logger } from '../runtime/logger';
import { Pause } from '../runtime/pause';
import type { NodeStore } from '../store/node-store';
import { fromWireEntry } from '../replication/entry-protobuf';
import type { FetchStream } from '../replication/fetch-stream';
import type { ReplicationPeers } from '../replication/replication-client';
import { RecentEntries } from './recent-entries';

export interface FollowerOptions {
  store: NodeStore;
  peers: ReplicationPeers;
  partition: number;
  nodeId: string;
  leaderId: string;
  leaderAddress: string;
  leaderEpoch: number;
  logger: Logger;
}

const FETCH_WAIT_MS = 500;
const QUIET_FETCH_ERRORS: ReadonlySet<string> = new Set(['unavailable', 'not_leader', 'stale_epoch', 'insufficient_storage']);
const OPERATOR_FETCH_ERRORS: ReadonlySet<string> = new Set(['unauthorized', 'forbidden']);
const OPERATOR_ERROR_LOG_INTERVAL_MS = 60_000;
const FETCH_ENTRIES = 2_000;
/** Entries written lately, applied from memory once committed; small for the GC (see TAIL_ENTRIES). */
const RECENT_ENTRIES = 1_024;
const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 1_000;
/**
 * A follower's copy is synced within this long after it is written, one sync for all the
 * fetches of the interval: the leader has already synced every acknowledged entry, so this
 * sync only narrows the window in which a power loss of every replica at once could lose
 * something, and syncing after each fetch (hundreds a second) took CPU and disk time from
 * the leaders' syncs, which clients wait for.
 */
const FOLLOWER_SYNC_WITHIN_MS = 10;

/**
 * A follower of one partition: fetches from the leader of the current epoch, truncates a
 * divergent suffix when the leader says so, appends what it gets, and applies up to the
 * leader's high watermark (DESIGN §5). It never serves clients.
 */
export class PartitionFollower {
  private closed = false;
  private loop: Promise<void> | undefined;
  private compactBelow = 0;
  /** What this follower appended lately, applied from memory once the high watermark covers it. */
  private recent = new RecentEntries(RECENT_ENTRIES);
  /** The backoff between failed fetches, ended early by close(). */
  private readonly backoffPause = new Pause();
  /** The open FetchStream to the leader; replaced after any failure. */
  private stream: FetchStream | undefined;
  private operatorErrorLoggedAt = 0;

  constructor(private readonly options: FollowerOptions) {}

  get partition(): number {
    return this.options.partition;
  }

  get leaderEpoch(): number {
    return this.options.leaderEpoch;
  }

  get leaderId(): string {
    return this.options.leaderId;
  }

  /** The replicator (`host:port`) this follower fetches from. */
  get leaderAddress(): string {
    return this.options.leaderAddress;
  }

  /** Starts fetching in the background; resolves at once (the first fetch may take a while). */
  async start(): Promise<void> {
    this.loop ??= this.run();
  }

  /** Entries below this are on every replica and applied here: safe to compact. */
  compactionFloor(): number {
    return Math.min(this.compactBelow, this.options.store.position(this.partition).applied);
  }

  private async run(): Promise<void> {
    let backoff = BACKOFF_MIN_MS;
    while (!this.closed) {
      try {
        await this.fetchOnce();
        backoff = BACKOFF_MIN_MS;
      } catch (error) {
        void this.stream?.close();
        this.stream = undefined;
        if (this.closed) return;
        // Leaders come and go during elections: those refusals are expected and retried quietly.
        this.options.logger[this.levelFor(error)]('fetch from leader failed; retrying', { partition: this.partition, leader: this.options.leaderId, error });
        await this.backoffPause.sleep(backoff);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      }
    }
  }

  /**
   * Leaders come and go during elections: those refusals are expected and retried quietly, and
   * a full disk is reported once by StorageHealth. A refusal only an operator can fix (a wrong
   * cluster secret) is an error, said once a minute rather than on every retry.
   */
  private levelFor(error: unknown): 'debug' | 'warn' | 'error' {
    const code = error instanceof MomError ? error.code : undefined;
    if (code !== undefined && QUIET_FETCH_ERRORS.has(code)) return 'debug';
    if (code !== undefined && OPERATOR_FETCH_ERRORS.has(code)) {
      const now = Date.now();
      if (now - this.operatorErrorLoggedAt < OPERATOR_ERROR_LOG_INTERVAL_MS) return 'debug';
      this.operatorErrorLoggedAt = now;
      return 'error';
    }
    return 'warn';
  }

  private async fetchOnce(): Promise<void> {
    const { store, peers, partition } = this.options;
    const position = store.position(partition);
    if (!this.stream?.usable) this.stream = peers.openFetchStream(this.options.leaderAddress);
    const response = await this.stream.fetch(
      {
        partition,
        followerId: this.options.nodeId,
        leaderEpoch: this.options.leaderEpoch,
        fetchOffset: position.logEnd,
        lastFetchedEpoch: store.lastEpoch(partition),
        maxWaitMs: FETCH_WAIT_MS,
        maxEntries: FETCH_ENTRIES,
      },
      FETCH_WAIT_MS + 5_000,
    );
    if (this.closed) return;
    this.compactBelow = response.compactBelow;
    if (response.diverging) {
      const to = Math.min(response.diverging.endOffset, store.position(partition).logEnd);
      this.options.logger.info('truncating a divergent log suffix', { partition, to, logEnd: position.logEnd, leaderEpoch: this.options.leaderEpoch });
      await store.writes.submit(() => store.truncate(partition, to));
      this.recent = new RecentEntries(RECENT_ENTRIES);
      return;
    }
    const entries = response.entries.map(fromWireEntry);
    const highWatermark = response.highWatermark;
    if (entries.length === 0 && highWatermark <= store.position(partition).applied) return;
    // Progress is reported (by the next fetch) once the entries are written; their sync
    // follows within FOLLOWER_SYNC_WITHIN_MS, off the replication path. An acknowledged
    // entry is then synced on the leader and written on every in-sync replica, which survives
    // the loss of any node's process; see "Guarantees and limits" in the README.
    // A write the disk refuses rolls back, and the store's log end with it: the next fetch
    // asks again from the last entry really stored, so this follower never claims (and the
    // leader never counts) an entry it does not hold.
    try {
      await store.writes.submit(
        () => {
          if (entries.length > 0) {
            store.appendReplicated(partition, entries);
            this.recent.addStored(entries);
          }
          // Only committed entries are applied: a later truncation never touches applied state.
          store.applyUpTo(partition, Math.min(highWatermark, store.position(partition).logEnd), (from, max) => this.recent.read(from, max));
        },
        { durable: false, immediate: true },
      );
    } catch (error) {
      this.recent = new RecentEntries(RECENT_ENTRIES); // it may remember entries the failed write did not store
      throw error;
    }
    if (entries.length > 0) store.writes.syncWithin(FOLLOWER_SYNC_WITHIN_MS, (error) => this.options.logger.error('follower sync failed', { partition, error }));
  }

  /** Stops fetching: the fetch in flight is cancelled. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.backoffPause.wake();
    await this.stream?.close();
    await this.loop;
  }
}
