import type Database from 'better-sqlite3';
import { MomError } from '../core/errors';
import type { UndoRecorder } from './catalog';

export interface EpochStart {
  epoch: number;
  startOffset: number;
}

/**
 * Each partition's leader-epoch history: the first offset written in each epoch (DESIGN §5,
 * the `epochs` table). It fences stale leaders (an entry of an older epoch than the log's
 * last is refused) and answers where an epoch ends, which a follower truncates to. The
 * newest epoch and the list are cached: they are read on every follower fetch and change
 * only with the epochs; a transaction that rolls back drops the cache (see GroupCommit).
 */
export class LeaderEpochs {
  private readonly last = new Map<number, number>();
  private readonly lists = new Map<number, EpochStart[]>();
  private readonly stmt: Record<'insert' | 'deleteFrom' | 'select' | 'max', Database.Statement>;

  constructor(
    db: Database.Database,
    private readonly recordUndo: UndoRecorder,
  ) {
    this.stmt = {
      insert: db.prepare('INSERT OR IGNORE INTO epochs (p, epoch, start_offset) VALUES (?, ?, ?)'),
      deleteFrom: db.prepare('DELETE FROM epochs WHERE p = ? AND start_offset >= ?'),
      select: db.prepare('SELECT epoch, start_offset FROM epochs WHERE p = ? ORDER BY epoch'),
      max: db.prepare('SELECT MAX(epoch) AS epoch FROM epochs WHERE p = ?'),
    };
  }

  /** The newest leader epoch this partition's log has entries of (0 for none). */
  newest(partition: number): number {
    let epoch = this.last.get(partition);
    if (epoch === undefined) {
      const row = this.stmt.max.get(partition) as { epoch: number | null } | undefined;
      epoch = row?.epoch ?? 0;
      this.last.set(partition, epoch);
    }
    return epoch;
  }

  /** Refuses an entry of an epoch older than the log's newest (DESIGN §5 fencing). */
  check(partition: number, epoch: number): void {
    const newest = this.newest(partition);
    if (epoch < newest) {
      throw new MomError('stale_epoch', `partition ${partition}: leader epoch ${epoch} is older than the log's epoch ${newest}`);
    }
  }

  /** Records that `epoch` starts at `startOffset`. Inside the caller's transaction. */
  record(partition: number, epoch: number, startOffset: number): void {
    this.check(partition, epoch);
    this.forgetOnRollback(partition);
    this.stmt.insert.run(partition, epoch, startOffset);
    this.last.set(partition, epoch);
    this.lists.delete(partition);
  }

  /** A replicated entry of `epoch` at `offset`: a newer epoch than the log's starts there. */
  recordIfNewer(partition: number, epoch: number, offset: number): void {
    this.check(partition, epoch);
    if (epoch > this.newest(partition)) this.record(partition, epoch, offset);
  }

  /** Forgets the epochs that start at or after `offset` (a truncated suffix). */
  truncateFrom(partition: number, offset: number): void {
    this.forgetOnRollback(partition);
    this.stmt.deleteFrom.run(partition, offset);
    this.last.delete(partition);
    this.lists.delete(partition);
  }

  /** Leader epochs of a partition with the first offset of each, oldest first. */
  all(partition: number): EpochStart[] {
    let list = this.lists.get(partition);
    if (!list) {
      list = (this.stmt.select.all(partition) as Array<{ epoch: number; start_offset: number }>).map((row) => ({ epoch: row.epoch, startOffset: row.start_offset }));
      this.lists.set(partition, list);
    }
    return list;
  }

  /**
   * Where the log of `epoch` ends (DESIGN §5): the largest epoch known that is not newer than
   * `epoch`, and the first offset after its entries (`logEnd` for the newest).
   */
  endOffset(partition: number, epoch: number, logEnd: number): { epoch: number; endOffset: number } {
    const list = this.all(partition);
    let found = -1;
    for (let i = 0; i < list.length; i++) if (list[i]!.epoch <= epoch) found = i;
    if (found < 0) return { epoch: 0, endOffset: list[0]?.startOffset ?? logEnd };
    const next = list[found + 1];
    return { epoch: list[found]!.epoch, endOffset: next ? next.startOffset : logEnd };
  }

  private forgetOnRollback(partition: number): void {
    this.recordUndo(() => {
      this.last.delete(partition);
      this.lists.delete(partition);
    });
  }
}
