import type Database from 'better-sqlite3';
import { fdatasync } from 'node:fs';
import type { FsyncPolicy } from '../config/settings';
import { MomError } from '../core/errors';
import { isStorageError, storageFailure } from './storage-failure';
import type { StorageHealth } from './storage-health';
import type { WalFile } from './wal-file';

interface PendingWork {
  run: () => unknown;
  /** False for writes that can be rebuilt from durable ones (derived state): answered at commit. */
  durable: boolean;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export interface SubmitOptions {
  /** False for writes that can be rebuilt from durable ones (derived state): answered at commit. */
  durable?: boolean;
  /** Commit the group now instead of at the turn's end (see submit). */
  immediate?: boolean;
  /** The storage probe: tried even while the disk is failed (see StorageHealth). */
  probe?: boolean;
}

export interface GroupCommitOptions {
  db: Database.Database;
  policy: FsyncPolicy;
  wal: WalFile;
  /** The data directory, named in storage errors. */
  dataDir: string;
  health: StorageHealth;
  /**
   * A failed fdatasync: the kernel may have dropped the pages it could not write, so what
   * this process reads back may differ from the disk (PostgreSQL's "fsyncgate"). Only a
   * restart, recovering from what reached the disk, is safe.
   */
  onSyncFailure: (error: Error) => void;
  /** Told how long each group's transaction and each fdatasync took, for /metrics. */
  observer?: WriteObserver;
}

/** Durations of the store's writes, in seconds: called once per group and once per sync. */
export interface WriteObserver {
  committed(seconds: number): void;
  synced(seconds: number): void;
}

interface AwaitingSync {
  resolve: (value: unknown) => void;
  value: unknown;
  reject: (error: unknown) => void;
}

/**
 * Group commit with a pipelined fsync (DESIGN §3). Every write submitted during one
 * event-loop turn runs in one transaction. SQLite commits without syncing; the WAL is then
 * fdatasync'ed in libuv's thread pool, and a write is answered only after a sync that began
 * after its commit. While one sync runs, the next groups commit and wait for the next sync,
 * so the event loop never blocks on the disk and one fsync covers many groups.
 *
 * fsync=always: each write is its own transaction (still answered only after a sync).
 * fsync=never: answered at commit; the OS writes the WAL back when it likes.
 * A work function must not throw for expected conditions (validate before submitting): a
 * throw rolls back its whole group and rejects every caller in it. State kept in memory
 * beside the tables (log ends, the catalog) registers its undo with `onRollback`, so that a
 * failed transaction leaves memory exactly as the database is.
 *
 * A write the disk refuses (full, I/O error) marks the storage failed (StorageHealth); from
 * then on writes are refused at once with `insufficient_storage` until a probe succeeds.
 */
export class GroupCommit {
  private queue: PendingWork[] = [];
  private scheduled = false;
  /** True while a group runs: a work function that submits more must not start another. */
  private flushing = false;
  private closed = false;
  private awaitingSync: AwaitingSync[] = [];
  private syncing = false;
  private idleWaiters: Array<() => void> = [];
  private syncTimer: NodeJS.Timeout | undefined;
  /** Undo steps of the transaction running now, newest last. */
  private undo: Array<() => void> = [];
  private inTransaction = false;
  private readonly db: Database.Database;
  private readonly policy: FsyncPolicy;
  private readonly wal: WalFile;
  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;
  /** Statistics for /metrics. */
  groups = 0;
  writes = 0;
  syncs = 0;
  /** Writes that asked to be durable, and waits for durability (publishes, acks, replicated entries; not maintenance): their count moving means traffic. */
  durableWrites = 0;

  constructor(private readonly options: GroupCommitOptions) {
    const { db } = options;
    this.db = db;
    this.policy = options.policy;
    this.wal = options.wal;
    this.begin = db.prepare('BEGIN');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
  }

  /**
   * Queues `run` for the group of this event-loop turn. `immediate`: commit the group now
   * instead of at the turn's end, for a write whose answer someone is waiting on (a leader's
   * apply of entries just committed, a follower's copy the leader waits for): on a busy loop
   * the turn's end can be a millisecond or more away.
   */
  submit<T>(run: () => T, options: SubmitOptions = {}): Promise<T> {
    if (this.closed) return Promise.reject(new MomError('unavailable', 'the store is closed; the broker is shutting down'));
    const refusal = options.probe ? undefined : this.options.health.refusal();
    if (refusal) return Promise.reject(refusal);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, durable: options.durable ?? true, resolve: resolve as (value: unknown) => void, reject });
      if (options.immediate && !this.flushing) {
        this.flush();
        return;
      }
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits everything queued now (synchronously); answers follow the next sync. */
  flush(): void {
    if (this.flushing) return; // the caller is inside a group; what it queued has a turn-end flush scheduled
    this.scheduled = false;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    this.flushing = true;
    try {
      if (this.policy === 'always') {
        for (const work of batch) this.runGroup([work]);
      } else {
        this.runGroup(batch);
      }
    } finally {
      this.flushing = false;
    }
    if (this.policy === 'never') this.settleSynced(this.awaitingSync.splice(0));
    else this.startSync();
  }

  /**
   * Registers how to put back in-memory state that the running transaction changed, should it
   * roll back. Outside a transaction there is nothing to undo.
   */
  onRollback(undo: () => void): void {
    if (this.inTransaction) this.undo.push(undo);
  }

  private runGroup(batch: PendingWork[]): void {
    const results: unknown[] = new Array(batch.length);
    const started = this.options.observer ? performance.now() : 0;
    try {
      this.begin.run();
      this.inTransaction = true;
      try {
        for (let i = 0; i < batch.length; i++) results[i] = batch[i]!.run();
        this.commit.run();
      } catch (error) {
        this.inTransaction = false;
        // SQLite rolls some failures back by itself (a full disk at COMMIT may): then there is no transaction left.
        if (this.db.inTransaction) this.rollback.run();
        this.undoMemory();
        throw error;
      } finally {
        this.inTransaction = false;
        this.undo = [];
      }
    } catch (error) {
      const failure = this.failureOf(error);
      for (const work of batch) work.reject(failure);
      return;
    }
    this.options.observer?.committed((performance.now() - started) / 1000);
    this.groups++;
    this.writes += batch.length;
    for (let i = 0; i < batch.length; i++) {
      const work = batch[i]!;
      if (work.durable) {
        this.durableWrites++;
        this.awaitingSync.push({ resolve: work.resolve, reject: work.reject, value: results[i] });
      }
      else work.resolve(results[i]);
    }
  }

  private undoMemory(): void {
    for (let i = this.undo.length - 1; i >= 0; i--) this.undo[i]!();
  }

  private failureOf(error: unknown): MomError {
    if (isStorageError(error)) {
      const failure = storageFailure(this.options.dataDir, error);
      this.options.health.failed(failure);
      return failure;
    }
    if (error instanceof MomError) return error;
    return new MomError('internal', `store write failed: ${(error as Error).message}`, { cause: error });
  }

  /** One sync at a time; it covers every group committed before it started. */
  private startSync(): void {
    if (this.syncing || this.awaitingSync.length === 0) return;
    this.syncing = true;
    const covered = this.awaitingSync;
    this.awaitingSync = [];
    const started = this.options.observer ? performance.now() : 0;
    fdatasync(this.wal.fd(), (error) => {
      this.syncing = false;
      this.syncs++;
      if (!error) this.options.observer?.synced((performance.now() - started) / 1000);
      if (error) {
        const failure = new MomError('internal', `fsync of the write-ahead log failed: ${error.message}; the write may be lost`, { cause: error });
        for (const waiting of covered) waiting.reject(failure);
        this.options.onSyncFailure(error);
      } else {
        this.settleSynced(covered);
      }
      if (this.awaitingSync.length > 0) this.startSync();
      else this.wakeIdle();
    });
  }

  private settleSynced(list: AwaitingSync[]): void {
    for (const waiting of list) waiting.resolve(waiting.value);
  }

  private wakeIdle(): void {
    if (this.syncing || this.queue.length > 0 || this.awaitingSync.length > 0) return;
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** Resolves once everything committed so far is on disk (at once with fsync=never). */
  whenDurable(): Promise<void> {
    this.durableWrites++;
    if (this.policy === 'never') return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.awaitingSync.push({ resolve: resolve as (value: unknown) => void, reject, value: undefined });
      this.startSync();
    });
  }

  /**
   * Makes everything committed so far durable within `delayMs`, without waiting for it: one
   * sync then covers every write of the interval. For writes whose sync is not on anyone's
   * answer path (a follower's copy): fewer syncs leave the disk and the CPU to those that are.
   * A failed sync is reported to `onError`.
   */
  syncWithin(delayMs: number, onError: (error: unknown) => void): void {
    if (this.policy === 'never' || this.syncTimer !== undefined || this.closed) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      this.whenDurable().catch(onError);
    }, delayMs);
  }

  /** Resolves when nothing is queued, committing or syncing. */
  idle(): Promise<void> {
    if (!this.syncing && this.queue.length === 0 && this.awaitingSync.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Commits what is queued, waits for its sync, and refuses new work. Idempotent. */
  async close(): Promise<void> {
    if (!this.closed) {
      if (this.syncTimer !== undefined) {
        clearTimeout(this.syncTimer);
        this.syncTimer = undefined;
        this.whenDurable().catch(() => {}); // idle() below waits for this sync; a failure has no caller to reach
      }
      this.flush();
      this.closed = true;
    }
    await this.idle();
  }
}
