import { closeSync, openSync } from 'node:fs';

/**
 * A descriptor of the database's write-ahead log, used only to fdatasync it from the thread
 * pool: a sync through any descriptor of a file flushes that file's written pages. SQLite
 * keeps the WAL file (it restarts it in place after checkpoints), so one descriptor stays valid
 * while the database is open.
 */
export class WalFile {
  private descriptor: number | undefined;

  constructor(private readonly path: string) {}

  fd(): number {
    this.descriptor ??= openSync(this.path, 'r+');
    return this.descriptor;
  }

  async close(): Promise<void> {
    if (this.descriptor !== undefined) closeSync(this.descriptor);
    this.descriptor = undefined;
  }
}
