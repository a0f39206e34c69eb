import { statfs } from 'node:fs/promises';
import type { MomError } from '../core/errors';
import type { Logger } from '../runtime/logger';

export type StorageState = 'writable' | 'failed';

export interface StorageHealthOptions {
  /** The directory whose file system holds the database. */
  dataDir: string;
  /** A real write and its sync; rejects while the disk still refuses. */
  probe: () => Promise<void>;
  logger: Logger;
  /** Pause between probes while failed; default 1 s. */
  probeIntervalMs?: number;
}

const DEFAULT_PROBE_INTERVAL_MS = 1_000;
/**
 * Free space a failed disk must show again before a probe write is tried: a write that only
 * fits because the WAL file is reused in place says nothing about the next checkpoint, which
 * grows the database file. 8 MiB, or 5 % of a small file system (at least 1 MiB).
 */
const MAX_FREE_NEEDED_BYTES = 8 * 1024 * 1024;
const MIN_FREE_NEEDED_BYTES = 1024 * 1024;

/**
 * Whether this node's disk takes writes (DESIGN §5: a node that cannot write gives up
 * leadership and answers `insufficient_storage` until it can). The first write the disk
 * refuses turns it `failed`; from then on writes are refused at once instead of being tried,
 * and a probe runs every second: once the file system has room again and a probe write and
 * its sync succeed, it is `writable` again.
 */
export class StorageHealth {
  private current: StorageState = 'writable';
  private failure: MomError | undefined;
  private readonly listeners = new Set<(state: StorageState) => void>();
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private closed = false;
  /** Times the disk refused a write and the node stopped writing, for /metrics. */
  failures = 0;

  constructor(private readonly options: StorageHealthOptions) {}

  get state(): StorageState {
    return this.current;
  }

  get writable(): boolean {
    return this.current === 'writable';
  }

  /** The error to answer a write with while the disk is failed; undefined while writable. */
  refusal(): MomError | undefined {
    return this.current === 'failed' ? this.failure : undefined;
  }

  /** Listens for changes of state; returns the way to stop listening. */
  onChange(listener: (state: StorageState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A write was refused by the disk (see storage-failure.ts). Idempotent while failed. */
  failed(error: MomError): void {
    if (this.closed || this.current === 'failed') return;
    this.current = 'failed';
    this.failure = error;
    this.failures++;
    this.options.logger.error('the disk refused a write; this node stops writing until it can again', { error });
    this.notify();
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    if (this.closed || this.probeTimer) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      void this.probeOnce();
    }, this.options.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS);
    this.probeTimer.unref();
  }

  private async probeOnce(): Promise<void> {
    if (this.closed || this.probing || this.current !== 'failed') return;
    this.probing = true;
    try {
      if (!(await this.hasRoom())) return;
      await this.options.probe();
      this.current = 'writable';
      this.failure = undefined;
      this.options.logger.info('the disk takes writes again', { data: this.options.dataDir });
      this.notify();
    } catch (error) {
      this.options.logger.debug('storage probe failed; still not writing', { error });
    } finally {
      this.probing = false;
      if (this.current === 'failed') this.scheduleProbe();
    }
  }

  private async hasRoom(): Promise<boolean> {
    const stats = await statfs(this.options.dataDir);
    const total = stats.blocks * stats.bsize;
    const free = stats.bavail * stats.bsize;
    const needed = Math.min(MAX_FREE_NEEDED_BYTES, Math.max(MIN_FREE_NEEDED_BYTES, Math.floor(total / 20)));
    return free >= needed;
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener(this.current);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    this.listeners.clear();
  }
}
