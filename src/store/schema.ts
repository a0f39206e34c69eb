import Database from 'better-sqlite3';
import { existsSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { MomError } from '../core/errors';
import { ensurePrivateDir, makeDatabasePrivate } from '../runtime/private-files';

/**
 * The node database (DESIGN §3): every partition's log plus the state derived from it.
 * A log row's key packs the partition and the offset into one integer primary key
 * (partition * 2^40 + offset), so an append is one B-tree insert at the right edge.
 */
export const OFFSET_BITS = 2 ** 40;

export function logKey(partition: number, offset: number): number {
  return partition * OFFSET_BITS + offset;
}

const SCHEMA_VERSION = 1;

const DDL = `
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);

-- The replicated log. data: JSON of the entry (without the payload for publishes);
-- payload/msg_id/headers/ts/target: the publish columns, read as they are on the pull path.
CREATE TABLE IF NOT EXISTS log (
  k INTEGER PRIMARY KEY,
  epoch INTEGER NOT NULL,
  type TEXT NOT NULL,
  data TEXT,
  target INTEGER,
  msg_id TEXT,
  headers TEXT,
  ts INTEGER,
  payload TEXT
);

-- Per partition: where its log starts (after compaction) and ends, and how far it is applied.
CREATE TABLE IF NOT EXISTS partitions (
  p INTEGER PRIMARY KEY,
  log_start INTEGER NOT NULL DEFAULT 0,
  log_end INTEGER NOT NULL DEFAULT 0,
  applied INTEGER NOT NULL DEFAULT 0
);

-- Leader epoch history: the first offset written in each epoch (for truncation, DESIGN §5).
CREATE TABLE IF NOT EXISTS epochs (
  p INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  start_offset INTEGER NOT NULL,
  PRIMARY KEY (p, epoch)
) WITHOUT ROWID;

-- Derived: topics and inboxes (queues and subscriptions), each with the offset that made it.
CREATE TABLE IF NOT EXISTS topics (
  id INTEGER PRIMARY KEY,
  p INTEGER NOT NULL,
  exchange TEXT NOT NULL,
  name TEXT NOT NULL,
  options TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  off INTEGER NOT NULL,
  UNIQUE (exchange, name)
);

CREATE TABLE IF NOT EXISTS inboxes (
  id INTEGER PRIMARY KEY,
  p INTEGER NOT NULL,
  inbox_key TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  exchange TEXT NOT NULL,
  name TEXT NOT NULL,
  topic_id INTEGER,
  options TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  off INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS inboxes_by_topic ON inboxes (topic_id);

-- Derived: messages not yet settled in an inbox. msg is the publish entry's offset.
-- state 0 = ready or leased (leases are leader-local memory), 1 = dead letter.
CREATE TABLE IF NOT EXISTS pending (
  inbox INTEGER NOT NULL,
  msg INTEGER NOT NULL,
  failures INTEGER NOT NULL DEFAULT 0,
  state INTEGER NOT NULL DEFAULT 0,
  dead_reason TEXT,
  off INTEGER NOT NULL,
  PRIMARY KEY (inbox, msg)
) WITHOUT ROWID;

-- Derived: retained topic messages, for subscriptions created with from=earliest.
CREATE TABLE IF NOT EXISTS topic_messages (
  topic INTEGER NOT NULL,
  msg INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  PRIMARY KEY (topic, msg)
) WITHOUT ROWID;

-- Derived: producer ids seen within the dedup window, per queue/topic.
CREATE TABLE IF NOT EXISTS dedup (
  target TEXT NOT NULL,
  producer_id TEXT NOT NULL,
  msg_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  off INTEGER NOT NULL,
  PRIMARY KEY (target, producer_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedup_by_ts ON dedup (ts);

-- Always empty: the storage probe writes a row and deletes it, to learn whether the disk takes writes.
CREATE TABLE IF NOT EXISTS storage_probe (
  id INTEGER PRIMARY KEY,
  filler BLOB
);
`;

/**
 * The write-ahead log is cut back to this size when SQLite restarts it after a checkpoint.
 * The cut is an ftruncate on the writer's thread, the event loop: it took 3-10 ms each time (under strace)
 * under a steady 2,000 msg/s (the WAL passes 8 MiB between restarts there), the largest stall
 * in the latency tail. At 64 MiB a steady load never reaches it; NodeStore.cutBackWal brings
 * the WAL down to WAL_IDLE_BYTES once the node is idle.
 */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

export interface OpenedNodeDatabase {
  db: Database.Database;
  /** The file predates incremental vacuum and was rewritten (VACUUM) to allow it. */
  converted: boolean;
  /** The file was corrupt: what SQLite said, and where it was moved; the database is a new, empty one. */
  setAside: { problem: string; movedTo: string } | undefined;
}

/**
 * What to do with a corrupt database file: a cluster node (`set-aside`) moves it aside and
 * starts empty, to copy its partitions back from their leaders (issue 11 §1, scenario 10);
 * a single node (`refuse`) has no replica to copy from and refuses to start.
 */
export type OnCorruptDatabase = 'set-aside' | 'refuse';

/** SQLite's verdict on a damaged file (`PRAGMA quick_check`, or the error opening it), or undefined if it is sound. */
function corruption(db: Database.Database): string | undefined {
  try {
    const rows = db.pragma('quick_check(3)') as Array<{ quick_check: string }>;
    const verdict = rows.map((row) => row.quick_check).join('; ');
    return verdict === 'ok' ? undefined : verdict;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB')) return (error as Error).message;
    throw error;
  }
}

export function openNodeDatabase(path: string, onCorrupt: OnCorruptDatabase = 'refuse'): OpenedNodeDatabase {
  ensurePrivateDir(dirname(path), { tighten: true });
  let db = new Database(path);
  let setAside: OpenedNodeDatabase['setAside'];
  const problem = corruption(db);
  if (problem !== undefined) {
    db.close();
    if (onCorrupt === 'refuse') {
      throw new MomError('config_invalid', `data: the database ${path} is corrupt (SQLite: ${problem.replace(/\s+/g, ' ').slice(0, 300)}); a node without replicas cannot rebuild it: restore it from a backup, or move it aside to start empty`);
    }
    // Kept for a post-mortem, never read again; the -wal and -shm files belong with it.
    const movedTo = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    for (const suffix of ['', '-wal', '-shm']) if (existsSync(`${path}${suffix}`)) renameSync(`${path}${suffix}`, `${movedTo}${suffix}`);
    setAside = { problem: problem.replace(/\s+/g, ' ').slice(0, 500), movedTo };
    db = new Database(path);
  }
  // Messages are private: 0600 before WAL mode makes the -wal and -shm files (they take this mode).
  makeDatabasePrivate(path);
  // Space given back (issue 11 §2b): pages freed by compaction go to a free list that
  // NodeStore.reclaimSpace hands back to the file system in small steps. The mode must be set
  // before the first table exists; a file made before it is rewritten once.
  let converted = false;
  if ((db.pragma('auto_vacuum', { simple: true }) as number) !== INCREMENTAL_VACUUM) {
    const hasTables = (db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number }).n > 0;
    db.pragma('auto_vacuum = INCREMENTAL');
    if (hasTables) {
      db.exec('VACUUM');
      converted = true;
    }
  }
  db.pragma('journal_mode = WAL');
  db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
  // Commits do not sync: GroupCommit fdatasyncs the WAL off the event loop before answering,
  // and checkpoints run with synchronous=FULL (NodeStore.checkpoint), so a checkpoint syncs the
  // WAL and the database file before SQLite reuses the WAL. SQLite's own checkpoints are off
  // because with synchronous=OFF they would not sync.
  db.pragma('synchronous = OFF');
  db.pragma('wal_autocheckpoint = 0');
  db.pragma('busy_timeout = 5000');
  db.pragma('cache_size = -65536');
  db.pragma('temp_store = MEMORY');
  db.exec(DDL);
  const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
  if (!row) db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(SCHEMA_VERSION);
  else if (row.version !== SCHEMA_VERSION) {
    throw new Error(`database ${path} has schema version ${row.version}; this mombroker understands ${SCHEMA_VERSION}`);
  }
  return { db, converted, setAside };
}

/** PRAGMA auto_vacuum's value for INCREMENTAL. */
const INCREMENTAL_VACUUM = 2;
