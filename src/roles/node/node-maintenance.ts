import type { Logger } from '../../runtime/logger';
import type { NodeStore } from '../../store/node-store';
import type { ReplicaManager } from './replica-manager';

const LEASE_SWEEP_MS = 100;
/** Compaction runs often in small passes (see Compactor's window): a pause of a few ms, not tens. */
const COMPACTION_MS = 100;
/** Short, frequent checkpoints keep each one's pause small. */
const CHECKPOINT_MS = 250;

export interface NodeMaintenanceOptions {
  store: NodeStore;
  replicas: ReplicaManager;
  dedupWindowMs: number;
  logger: Logger;
}

/**
 * A node's background work, each on its own timer: expired leases go back to their inbox,
 * compaction and dedup expiry run in small passes (DESIGN §3), and the checkpointer copies
 * the WAL into the database. None of it runs while the disk refuses writes: the store's
 * probe says when to resume, instead of a warning every 100 ms.
 */
export class NodeMaintenance {
  private timers: NodeJS.Timeout[] = [];
  private checkpointedAt = 0;
  private closed = false;

  constructor(private readonly options: NodeMaintenanceOptions) {}

  async start(): Promise<void> {
    this.timers.push(
      setInterval(() => this.sweepLeases(), LEASE_SWEEP_MS),
      setInterval(() => this.compact(), COMPACTION_MS),
      setInterval(() => this.checkpoint(), CHECKPOINT_MS),
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
      .catch((error: unknown) => logger.warn('compaction failed', { error }));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers.splice(0)) clearInterval(timer);
  }
}
