import { MomError } from '../../core/errors';
import type { Logger } from '../../runtime/logger';
import type { NodeStore } from '../../store/node-store';
import type { ReplicaManager } from './replica-manager';

const LEASE_SWEEP_MS = 100;
/** Compaction runs often in small passes (see Compactor's window): a pause of a few ms, not tens. */
const COMPACTION_MS = 100;
/** Short, frequent checkpoints keep each one's pause small. */
const CHECKPOINT_MS = 250;
/** Space goes back to the file system in steps of 4 MiB (about a millisecond each), every second. */
const RECLAIM_MS = 1_000;
const RECLAIM_PAGES = 1_024;
/** Free pages kept inside the file for the next burst (4 MiB at 4 KiB pages). */
const KEEP_FREE_PAGES = 1_024;
/** A write-ahead log larger than this is cut back once the node had no traffic for a reclaim period. */
const WAL_IDLE_BYTES = 8 * 1024 * 1024;

export interface NodeMaintenanceOptions {
  store: NodeStore;
  replicas: ReplicaManager;
  dedupWindowMs: number;
  logger: Logger;
}

/**
 * A node's background work, each on its own timer: expired leases go back to their inbox,
 * compaction and dedup expiry run in small passes (DESIGN §3), the checkpointer copies the
 * WAL into the database, and free pages go back to the file system. None of it runs while the disk refuses writes: the store's
 * probe says when to resume, instead of a warning every 100 ms.
 */
export class NodeMaintenance {
  private timers: NodeJS.Timeout[] = [];
  private checkpointedAt = 0;
  /** GroupCommit.durableWrites at the last reclaim tick: unchanged means a second without traffic. */
  private durableWritesAtReclaim = -1;
  private closed = false;

  constructor(private readonly options: NodeMaintenanceOptions) {}

  async start(): Promise<void> {
    this.timers.push(
      setInterval(() => this.sweepLeases(), LEASE_SWEEP_MS),
      setInterval(() => this.compact(), COMPACTION_MS),
      setInterval(() => this.checkpoint(), CHECKPOINT_MS),
      setInterval(() => this.reclaim(), RECLAIM_MS),
    );
    for (const timer of this.timers) timer.unref();
  }

  private sweepLeases(): void {
    const now = Date.now();
    for (const engine of this.options.replicas.allEngines()) engine.sweepLeases(now);
  }

  private checkpoint(): void {
    const { store } = this.options;
    if (this.closed || !store.health.writable || store.writes.groups === this.checkpointedAt) return;
    this.checkpointedAt = store.writes.groups;
    store.checkpointer.request();
  }

  /** Compaction and dedup expiry, in the background, in their own transactions. */
  private compact(): void {
    const { store, replicas, logger } = this.options;
    if (this.closed || !store.health.writable) return;
    const now = Date.now();
    void store.writes
      .submit(() => {
        let removed = 0;
        for (const engine of replicas.allEngines()) removed += store.compact(engine.partition, engine.compactionFloor(), now);
        for (const follower of replicas.allFollowers()) removed += store.compact(follower.partition, follower.compactionFloor(), now);
        removed += store.expireDedup(now - this.options.dedupWindowMs);
        return removed;
      }, { durable: false })
      .then((removed) => {
        if (removed > 0) logger.debug('compacted', { rows: removed });
      })
      .catch((error: unknown) => {
        // A disk that refuses writes is reported once by the store's health, and compaction
        // waits for it to recover: no warning for the pass that shared the refused group.
        if (!isStorageRefusal(error)) logger.warn('compaction failed', { error });
      });
  }

  private reclaim(): void {
    const { store, logger } = this.options;
    if (this.closed || !store.health.writable) return;
    const idle = store.writes.durableWrites === this.durableWritesAtReclaim;
    this.durableWritesAtReclaim = store.writes.durableWrites;
    if (idle) {
      try {
        if (store.cutBackWal(WAL_IDLE_BYTES)) logger.debug('cut the write-ahead log back while idle');
      } catch (error) {
        logger.warn('cutting the write-ahead log back failed', { error });
      }
    }
    void store.writes
      .submit(() => store.reclaimSpace(RECLAIM_PAGES, KEEP_FREE_PAGES), { durable: false })
      .then((pages) => {
        if (pages > 0) logger.debug('gave space back to the file system', { pages });
      })
      .catch((error: unknown) => {
        if (!isStorageRefusal(error)) logger.warn('giving space back failed', { error });
      });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers.splice(0)) clearInterval(timer);
  }
}

function isStorageRefusal(error: unknown): boolean {
  return error instanceof MomError && error.code === 'insufficient_storage';
}
