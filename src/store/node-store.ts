/**
 * The node's store (DESIGN §3), one concept past 350 lines: the one door to a node's SQLite
 * database. What lies behind it has files of its own (the group committer, the state
 * applier, the catalog, leader epochs, compaction, checkpoints, storage health); this class
 * keeps the partitions' positions and the statements of the log and its reads.
 */
import type Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { FsyncPolicy } from '../config/settings';
import { DEFAULT_QUEUE_OPTIONS, queueInboxKey, type LogEntry, type QueueOptions, type StoredEntry, type TopicOptions } from '../core/entries';
import { MomError } from '../core/errors';
import { Catalog } from './catalog';
import { Checkpointer } from './checkpointer';
import { Compactor } from './compactor';
import { LeaderEpochs } from './leader-epochs';
import { entryToRow, rowToEntry, type LogRow } from './log-row-codec';
import { GroupCommit, type WriteObserver } from './group-commit';
import { OFFSET_BITS, openNodeDatabase, type OnCorruptDatabase } from './schema';
import { StateApplier, type ApplyEffect } from './state-applier';
import { StorageHealth } from './storage-health';
import { WalFile } from './wal-file';
import { silentLogger, type Logger } from '../runtime/logger';

export interface NodeStoreOptions {
  logger?: Logger;
  /** A checkpoint failed (reported once per distinct message). */
  onCheckpointError?: (message: string) => void;
  /** An fdatasync failed: see GroupCommitOptions.onSyncFailure. Default: log it. */
  onSyncFailure?: (error: Error) => void;
  /** Pause between storage probes while the disk is failed (tests shorten it). */
  probeIntervalMs?: number;
  /** A corrupt database file: moved aside to start empty (a cluster node), or a refusal to start (default). */
  onCorrupt?: OnCorruptDatabase;
  /** Told the duration of every group commit and fdatasync (GroupCommitOptions.observer). */
  writeObserver?: WriteObserver;
}

/** The storage probe writes this much and deletes it again: a write that needs room. */
const PROBE_BYTES = 64 * 1024;

export interface PartitionPosition {
  /** First offset still in the log (earlier ones were compacted away). */
  logStart: number;
  /** Next offset to be written. */
  logEnd: number;
  /** Entries below this offset are applied to the derived tables. */
  applied: number;
}

/** A message row as the pull path reads it: the stored JSON text is sent on as it is. */
export interface MessageRow {
  /** The offset of the message's publish entry in its partition's log. */
  offset: number;
  failures: number;
  msg_id: string;
  headers: string | null;
  ts: number;
  payload: string;
}

export interface DeadLetterRow extends MessageRow {
  dead_reason: string | null;
}

/**
 * The node's store (DESIGN §3): one SQLite database holding every partition's log and the
 * state derived from it, the in-memory catalog of what exists, and the group committer all
 * writes go through.
 */
export class NodeStore {
  readonly catalog: Catalog;
  readonly writes: GroupCommit;
  /** Whether the disk takes writes (a full disk fails it; a probe brings it back). */
  readonly health: StorageHealth;
  private readonly applier: StateApplier;
  private readonly epochs: LeaderEpochs;
  private readonly positions = new Map<number, PartitionPosition>();
  private readonly compactor: Compactor;
  private closed = false;

  private readonly stmt: {
    insertLog: Database.Statement;
    readLog: Database.Statement;
    truncateLog: Database.Statement;
    upsertPosition: Database.Statement;
    readyAfter: Database.Statement;
    pendingMessage: Database.Statement;
    countByState: Database.Statement;
    countAll: Database.Statement;
    deadLetters: Database.Statement;
    deadLetterOffsets: Database.Statement;
    findDedup: Database.Statement;
    probeInsert: Database.Statement;
    probeDelete: Database.Statement;
    freePages: Database.Statement;
  };

  static open(dataDir: string, fsync: FsyncPolicy, options: NodeStoreOptions = {}): NodeStore {
    const path = join(dataDir, 'node', 'broker.db');
    const { db, converted, setAside } = openNodeDatabase(path, options.onCorrupt);
    const logger = options.logger ?? silentLogger;
    if (converted) logger.info('rewrote the database once so that it can give space back (incremental vacuum)', { path });
    if (setAside) {
      // An empty replica is in no ISR, so it cannot lead; it copies every partition from its leader (DESIGN §5).
      logger.error('the database file is corrupt: moved it aside and started with an empty one; this node copies its partitions back from their leaders and leads none until it is back in their ISR', {
        path,
        movedTo: setAside.movedTo,
        problem: setAside.problem,
      });
    }
    const checkpointer = new Checkpointer(path, fsync !== 'never', options.onCheckpointError ?? (() => {}));
    return new NodeStore(db, fsync, dataDir, new WalFile(`${path}-wal`), checkpointer, options);
  }

  private constructor(
    readonly db: Database.Database,
    private readonly fsync: FsyncPolicy,
    dataDir: string,
    private readonly wal: WalFile,
    readonly checkpointer: Checkpointer,
    options: NodeStoreOptions,
  ) {
    const logger = options.logger ?? silentLogger;
    this.health = new StorageHealth({
      dataDir,
      logger,
      probe: () => this.probe(),
      ...(options.probeIntervalMs !== undefined ? { probeIntervalMs: options.probeIntervalMs } : {}),
    });
    this.writes = new GroupCommit({
      db,
      policy: fsync,
      wal,
      dataDir,
      health: this.health,
      onSyncFailure: options.onSyncFailure ?? ((error) => logger.error('fdatasync of the write-ahead log failed', { error })),
      ...(options.writeObserver ? { observer: options.writeObserver } : {}),
    });
    this.catalog = new Catalog((undo) => this.writes.onRollback(undo));
    this.epochs = new LeaderEpochs(db, (undo) => this.writes.onRollback(undo));
    this.applier = new StateApplier(db, this.catalog);
    this.compactor = new Compactor(db, this.catalog);
    this.stmt = {
      insertLog: db.prepare('INSERT INTO log (k, epoch, type, data, target, msg_id, headers, ts, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      readLog: db.prepare('SELECT * FROM log WHERE k >= ? AND k < ? ORDER BY k LIMIT ?'),
      truncateLog: db.prepare('DELETE FROM log WHERE k >= ? AND k < ?'),
      upsertPosition: db.prepare(
        'INSERT INTO partitions (p, log_start, log_end, applied) VALUES (?, ?, ?, ?) ON CONFLICT (p) DO UPDATE SET log_start = excluded.log_start, log_end = excluded.log_end, applied = excluded.applied',
      ),
      readyAfter: db.prepare(
        `SELECT pending.msg AS "offset", pending.failures, log.msg_id, log.headers, log.ts, log.payload
         FROM pending JOIN log ON log.k = ? + pending.msg
         WHERE pending.inbox = ? AND pending.state = 0 AND pending.msg > ?
         ORDER BY pending.msg LIMIT ?`,
      ),
      pendingMessage: db.prepare(
        `SELECT pending.msg AS "offset", pending.failures, log.msg_id, log.headers, log.ts, log.payload
         FROM pending JOIN log ON log.k = ? + pending.msg
         WHERE pending.inbox = ? AND pending.msg = ? AND pending.state = 0`,
      ),
      countByState: db.prepare('SELECT state, COUNT(*) AS n FROM pending WHERE inbox = ? GROUP BY state'),
      // state is 0 (ready or leased) or 1 (dead): its sum counts the dead letters, in one pass in key order.
      countAll: db.prepare('SELECT inbox, COUNT(*) AS n, SUM(state) AS dead FROM pending GROUP BY inbox'),
      deadLetters: db.prepare(
        `SELECT pending.msg AS "offset", pending.failures, pending.dead_reason, log.msg_id, log.headers, log.ts, log.payload
         FROM pending JOIN log ON log.k = ? + pending.msg
         WHERE pending.inbox = ? AND pending.state = 1 AND pending.msg > ?
         ORDER BY pending.msg LIMIT ?`,
      ),
      deadLetterOffsets: db.prepare(
        `SELECT pending.msg AS "offset" FROM pending JOIN log ON log.k = ? + pending.msg
         WHERE pending.inbox = ? AND pending.state = 1 AND log.msg_id IN (SELECT value FROM json_each(?))
         ORDER BY pending.msg`,
      ),
      findDedup: db.prepare('SELECT msg_id, ts FROM dedup WHERE target = ? AND producer_id = ?'),
      probeInsert: db.prepare('INSERT INTO storage_probe (filler) VALUES (zeroblob(?))'),
      probeDelete: db.prepare('DELETE FROM storage_probe'),
      freePages: db.prepare('PRAGMA freelist_count').pluck(),
    };
    this.loadState();
  }

  private loadState(): void {
    for (const row of this.db.prepare('SELECT p, log_start, log_end, applied FROM partitions').all() as Array<{ p: number; log_start: number; log_end: number; applied: number }>) {
      this.positions.set(row.p, { logStart: row.log_start, logEnd: row.log_end, applied: row.applied });
    }
    for (const row of this.db.prepare('SELECT * FROM topics').all() as Array<{ id: number; p: number; exchange: string; name: string; options: string; created_at: number }>) {
      this.catalog.addTopic({
        id: row.id,
        partition: row.p,
        exchange: row.exchange,
        name: row.name,
        options: JSON.parse(row.options) as TopicOptions,
        createdAt: row.created_at,
        subscriptions: new Set(),
      });
    }
    for (const row of this.db.prepare('SELECT * FROM inboxes').all() as Array<{
      id: number;
      p: number;
      inbox_key: string;
      kind: 'queue' | 'subscription';
      exchange: string;
      name: string;
      topic_id: number | null;
      options: string;
      created_at: number;
    }>) {
      this.catalog.addInbox({
        id: row.id,
        partition: row.p,
        key: row.inbox_key,
        kind: row.kind,
        exchange: row.exchange,
        name: row.name,
        topicId: row.topic_id,
        options: { ...DEFAULT_QUEUE_OPTIONS, ...(JSON.parse(row.options) as QueueOptions) },
        createdAt: row.created_at,
      });
    }
  }

  position(partition: number): PartitionPosition {
    let position = this.positions.get(partition);
    if (!position) {
      position = { logStart: 0, logEnd: 0, applied: 0 };
      this.positions.set(partition, position);
    }
    return position;
  }

  /**
   * The partition's position, about to change inside the running transaction: if that rolls
   * back, the position goes back to what it is now, as the `partitions` row does. A log end
   * that ran ahead of a failed write would make a follower report entries it never stored.
   */
  private changingPosition(partition: number): PartitionPosition {
    const position = this.position(partition);
    const before = { ...position };
    this.writes.onRollback(() => Object.assign(position, before));
    return position;
  }

  /** A write that needs room on the disk, and its sync: StorageHealth's probe. */
  private async probe(): Promise<void> {
    await this.writes.submit(
      () => {
        this.stmt.probeInsert.run(PROBE_BYTES);
        this.stmt.probeDelete.run();
      },
      { probe: true },
    );
  }

  // ---- Writes: call inside a GroupCommit work function (one transaction). ----

  /** Appends entries at the end of the partition's log; returns the first offset used. */
  append(partition: number, epoch: number, entries: readonly LogEntry[]): number {
    this.epochs.check(partition, epoch);
    const position = this.changingPosition(partition);
    const first = position.logEnd;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      this.insertRow(entryToRow(partition, first + i, epoch, entry, this.targetOf(entry)));
    }
    position.logEnd = first + entries.length;
    this.savePosition(partition, position);
    return first;
  }

  /**
   * Appends entries a leader sent, at their own offsets. Offsets may skip ahead: the leader
   * compacts settled entries away, and an entry and the one settling it go together.
   * Entries of an epoch older than the log's last are refused (DESIGN §5 fencing).
   */
  appendReplicated(partition: number, entries: readonly StoredEntry[]): void {
    const position = this.changingPosition(partition);
    for (const stored of entries) {
      if (stored.offset < position.logEnd) {
        throw new MomError('internal', `partition ${partition}: replicated entry at offset ${stored.offset} is below the log end ${position.logEnd}`);
      }
      this.epochs.recordIfNewer(partition, stored.epoch, stored.offset);
      this.insertRow(entryToRow(partition, stored.offset, stored.epoch, stored.entry, this.targetOf(stored.entry)));
      position.logEnd = stored.offset + 1;
    }
    this.savePosition(partition, position);
  }

  /** Positional binding: measurably cheaper than named parameters on the append path. */
  private insertRow(row: LogRow): void {
    this.stmt.insertLog.run(row.k, row.epoch, row.type, row.data, row.target, row.msg_id, row.headers, row.ts, row.payload);
  }

  /** The newest leader epoch this partition's log has entries of (0 for none). */
  lastEpoch(partition: number): number {
    return this.epochs.newest(partition);
  }

  /** Where the log of `epoch` ends, for a follower to truncate to (see LeaderEpochs.endOffset). */
  epochEndOffset(partition: number, epoch: number): { epoch: number; endOffset: number } {
    return this.epochs.endOffset(partition, epoch, this.position(partition).logEnd);
  }

  /** Applies entries just appended (the caller still holds them), advancing `applied`. */
  applyAppended(partition: number, firstOffset: number, entries: readonly LogEntry[]): ApplyEffect[] {
    const position = this.changingPosition(partition);
    // Entries appended earlier but not applied yet (e.g. replicated before this node led) go first.
    const effects = position.applied < firstOffset ? this.applyUpTo(partition, firstOffset) : [];
    for (let i = 0; i < entries.length; i++) effects.push(this.applier.apply(partition, firstOffset + i, entries[i]!));
    position.applied = firstOffset + entries.length;
    this.savePosition(partition, position);
    return effects;
  }

  /**
   * Applies stored entries from `applied` up to (excluding) `upTo`, taken from `recent` (the
   * caller's memory of what it just wrote) when it has them, else read from the log.
   */
  applyUpTo(partition: number, upTo: number, recent?: (fromOffset: number, maxEntries: number) => StoredEntry[] | undefined): ApplyEffect[] {
    const position = this.changingPosition(partition);
    const effects: ApplyEffect[] = [];
    while (position.applied < Math.min(upTo, position.logEnd)) {
      const wanted = Math.min(upTo, position.logEnd) - position.applied;
      const remembered = recent?.(position.applied, wanted);
      const batch = remembered && remembered.length > 0 ? remembered : this.readLog(partition, position.applied, wanted);
      if (batch.length === 0) break;
      for (const stored of batch) {
        effects.push(this.applier.apply(partition, stored.offset, stored.entry));
        position.applied = stored.offset + 1;
      }
    }
    this.savePosition(partition, position);
    return effects;
  }

  /** Removes log entries at and after `offset` (never below applied: DESIGN §5 truncates uncommitted suffixes only). */
  truncate(partition: number, offset: number): void {
    const position = this.position(partition);
    if (offset < position.applied) {
      throw new MomError('internal', `partition ${partition}: refusing to truncate to ${offset}, below the applied offset ${position.applied}`);
    }
    if (offset >= position.logEnd) return;
    this.changingPosition(partition);
    this.stmt.truncateLog.run(partition * OFFSET_BITS + offset, (partition + 1) * OFFSET_BITS);
    this.epochs.truncateFrom(partition, offset);
    position.logEnd = offset;
    this.savePosition(partition, position);
  }

  recordEpochStart(partition: number, epoch: number, startOffset: number): void {
    this.epochs.record(partition, epoch, startOffset);
  }

  private savePosition(partition: number, position: PartitionPosition): void {
    this.stmt.upsertPosition.run(partition, position.logStart, position.logEnd, position.applied);
  }

  private targetOf(entry: LogEntry): number | null {
    if (entry.type !== 'publish') return null;
    if (entry.target === 'queue') return this.catalog.inbox(queueInboxKey(entry.exchange, entry.name))?.id ?? null;
    return this.catalog.topic(entry.exchange, entry.name)?.id ?? null;
  }

  // ---- Reads ----

  readLog(partition: number, fromOffset: number, maxEntries: number): StoredEntry[] {
    const rows = this.stmt.readLog.all(partition * OFFSET_BITS + fromOffset, (partition + 1) * OFFSET_BITS, maxEntries) as LogRow[];
    return rows.map(rowToEntry);
  }

  readyAfter(partition: number, inboxId: number, afterOffset: number, limit: number): MessageRow[] {
    return this.stmt.readyAfter.all(partition * OFFSET_BITS, inboxId, afterOffset, limit) as MessageRow[];
  }

  pendingMessage(partition: number, inboxId: number, offset: number): MessageRow | undefined {
    return this.stmt.pendingMessage.get(partition * OFFSET_BITS, inboxId, offset) as MessageRow | undefined;
  }

  counts(inboxId: number): { ready: number; dead: number } {
    const counts = { ready: 0, dead: 0 };
    for (const row of this.stmt.countByState.all(inboxId) as Array<{ state: number; n: number }>) {
      if (row.state === 0) counts.ready = row.n;
      else counts.dead = row.n;
    }
    return counts;
  }

  /** `counts` of every inbox with messages, in one pass (for /metrics); inboxes without any are absent. */
  allCounts(): Map<number, { ready: number; dead: number }> {
    const counts = new Map<number, { ready: number; dead: number }>();
    for (const row of this.stmt.countAll.iterate() as IterableIterator<{ inbox: number; n: number; dead: number }>) {
      counts.set(row.inbox, { ready: row.n - row.dead, dead: row.dead });
    }
    return counts;
  }

  /** Bytes of the database file and of its write-ahead log, for /metrics. */
  fileSizes(): { database: number; wal: number } {
    return { database: fileSize(this.db.name), wal: fileSize(`${this.db.name}-wal`) };
  }

  deadLetters(partition: number, inboxId: number, afterOffset: number, limit: number): DeadLetterRow[] {
    return this.stmt.deadLetters.all(partition * OFFSET_BITS, inboxId, afterOffset, limit) as DeadLetterRow[];
  }

  /** Offsets of the inbox's dead letters with these message ids (an id reused after the dedup window may name several). */
  deadLetterOffsets(partition: number, inboxId: number, ids: readonly string[]): number[] {
    const rows = this.stmt.deadLetterOffsets.all(partition * OFFSET_BITS, inboxId, JSON.stringify(ids)) as Array<{ offset: number }>;
    return rows.map((row) => row.offset);
  }

  findDedup(target: string, producerId: string): { msg_id: string; ts: number } | undefined {
    return this.stmt.findDedup.get(target, producerId) as { msg_id: string; ts: number } | undefined;
  }

  // ---- Maintenance (DESIGN §3: acked queue messages and expired topic messages are compacted) ----

  /** On a single replica: an ack removes its queue message's entries at once (see Compactor). */
  compactApplied(partition: number, firstOffset: number, entries: readonly LogEntry[], effects: readonly ApplyEffect[]): void {
    this.compactor.compactApplied(partition, firstOffset, entries, effects);
  }

  /** One bounded background pass below `below` (see Compactor); the number of log rows removed. */
  compact(partition: number, below: number, now: number): number {
    const position = this.position(partition);
    return this.compactor.compact(partition, position.logStart, Math.min(below, position.applied), now);
  }

  expireDedup(olderThan: number): number {
    return this.compactor.expireDedup(olderThan);
  }

  /**
   * Gives free pages back to the file system (issue 11 §2b): compaction frees pages inside
   * the file, and without this a drained broker would keep the size of its largest backlog.
   * At most `maxPages` per call (1,024 pages, 4 MiB, take about a millisecond), and only
   * once more than `keepPages` are free, so the file keeps room for the next burst. Inside a
   * GroupCommit work function; the file shrinks at the next checkpoint. Returns pages freed.
   */
  reclaimSpace(maxPages: number, keepPages: number): number {
    const free = this.stmt.freePages.get() as number;
    if (free <= keepPages) return 0;
    const pages = Math.min(maxPages, free - keepPages);
    this.db.pragma(`incremental_vacuum(${pages})`);
    return free - (this.stmt.freePages.get() as number);
  }

  /**
   * Brings a write-ahead log grown past `idleBytes` back to nothing, with a checkpoint on this
   * thread (a few ms to tens of ms): only for a node that has been idle a while (the caller
   * knows), so that the pause meets no traffic. Not while the worker checkpoints. Returns
   * whether it ran.
   */
  cutBackWal(idleBytes: number): boolean {
    if (this.closed || this.checkpointer.running || fileSize(`${this.db.name}-wal`) <= idleBytes) return false;
    this.checkpointNow();
    return true;
  }

  /**
   * A checkpoint on this thread, for shutdown: with synchronous=FULL SQLite syncs the WAL,
   * copies it into the database file and syncs that before truncating the WAL. While running,
   * the Checkpointer's worker does this off the event loop.
   */
  private checkpointNow(): void {
    if (this.fsync !== 'never') this.db.pragma('synchronous = FULL');
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      if (this.fsync !== 'never') this.db.pragma('synchronous = OFF');
    }
  }

  /** Waits for queued writes and their sync, checkpoints, and closes. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.health.close();
    await this.writes.close();
    await this.checkpointer.close();
    this.checkpointNow();
    await this.wal.close();
    this.db.close();
  }
}

/** A file's size, 0 when it does not exist (the WAL between a truncating checkpoint and the next write). */
function fileSize(path: string): number {
  return statSync(path, { throwIfNoEntry: false })?.size ?? 0;
}
