import Database from 'better-sqlite3';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

/**
 * WAL checkpoints off the event loop (DESIGN §3: keep the HTTP loop free). A worker thread
 * with its own connection copies the WAL into the database file with synchronous=FULL:
 * SQLite syncs the WAL, copies, and syncs the database before it marks the WAL reusable, so
 * nothing acknowledged depends on frames the writer may overwrite. PASSIVE checkpoints never
 * block the writer; the writer restarts the WAL at its next commit once one has completed.
 */
export class Checkpointer {
  private readonly worker: Worker;
  private busy = false;
  private closed = false;
  private lastError: string | undefined;
  /** Completed checkpoints, for /metrics. */
  completed = 0;

  constructor(dbPath: string, fullSync: boolean, onError: (message: string) => void) {
    // The worker runs this same file (also when it is part of the bundle): see the bottom.
    this.worker = new Worker(__filename, { workerData: { momCheckpointer: { dbPath, fullSync } } });
    this.worker.unref();
    this.worker.on('message', (reply: { ok: boolean; error?: string }) => {
      this.busy = false;
      if (reply.ok) this.completed++;
      else if (reply.error !== this.lastError) onError(reply.error ?? 'unknown error');
      this.lastError = reply.ok ? undefined : reply.error;
    });
    this.worker.on('error', (error) => onError(error.message));
  }

  /** Whether a checkpoint is running on the worker. */
  get running(): boolean {
    return this.busy;
  }

  /** Starts a checkpoint unless one is running. */
  request(): void {
    if (this.busy || this.closed) return;
    this.busy = true;
    this.worker.postMessage('checkpoint');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.worker.terminate();
  }
}

interface CheckpointerData {
  dbPath: string;
  fullSync: boolean;
}

function runCheckpointWorker(data: CheckpointerData): void {
  const db = new Database(data.dbPath);
  db.pragma('busy_timeout = 5000');
  db.pragma(`synchronous = ${data.fullSync ? 'FULL' : 'OFF'}`);
  parentPort!.on('message', () => {
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
      parentPort!.postMessage({ ok: true });
    } catch (error) {
      parentPort!.postMessage({ ok: false, error: (error as Error).message });
    }
  });
}

const data = (workerData as { momCheckpointer?: CheckpointerData } | null)?.momCheckpointer;
if (!isMainThread && data) runCheckpointWorker(data);
