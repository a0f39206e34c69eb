import type Database from 'better-sqlite3';
import type { FsyncPolicy } from '../config/settings';
import { MomError } from '../core/errors';

interface PendingWork {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit (DESIGN §3): every write submitted during one event-loop turn runs in one
 * transaction, and one commit (one fsync with fsync=batch) answers all of them. With
 * fsync=always each write is its own transaction. A work function runs inside the
 * transaction and must not throw for expected conditions (validate before submitting): a
 * throw rolls back the whole group and rejects every caller in it.
 */
export class GroupCommit {
  private queue: PendingWork[] = [];
  private scheduled = false;
  private closed = false;
  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;
  /** Statistics for /metrics: groups committed and the writes in them. */
  groups = 0;
  writes = 0;

  constructor(
    private readonly db: Database.Database,
    private readonly policy: FsyncPolicy,
  ) {
    this.begin = db.prepare('BEGIN');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
  }

  submit<T>(run: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new MomError('unavailable', 'the store is closed; the broker is shutting down'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Runs everything queued now, synchronously. */
  flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    if (this.policy === 'always') {
      for (const work of batch) this.runGroup([work]);
    } else {
      this.runGroup(batch);
    }
  }

  private runGroup(batch: PendingWork[]): void {
    const results: unknown[] = new Array(batch.length);
    try {
      this.begin.run();
      try {
        for (let i = 0; i < batch.length; i++) results[i] = batch[i]!.run();
        this.commit.run();
      } catch (error) {
        if (this.db.inTransaction) this.rollback.run();
        throw error;
      }
    } catch (error) {
      const failure = new MomError('internal', `store write failed: ${(error as Error).message}`, { cause: error });
      for (const work of batch) work.reject(failure);
      return;
    }
    this.groups++;
    this.writes += batch.length;
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]);
  }

  /** Commits what is queued and refuses new work. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
  }
}
