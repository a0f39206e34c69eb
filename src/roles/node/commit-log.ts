import type { LogEntry } from '../../core/entries';
import type { NodeStore } from '../../store/node-store';
import type { ApplyEffect } from '../../store/state-applier';

export type AckMode = 'all' | 'leader';

/**
 * How a partition leader makes entries durable and applied. The single-node implementation
 * appends and applies in one group-committed transaction; the replicated one (cluster) appends,
 * waits for the in-sync replicas, then applies up to the high watermark.
 */
export interface CommitLog {
  readonly partition: number;
  readonly epoch: number;
  commit(entries: LogEntry[], acks: AckMode): Promise<ApplyEffect[]>;
}

/** One node, no replicas: an entry is committed when its group's transaction is (DESIGN §1 `all`). */
export class LocalCommitLog implements CommitLog {
  constructor(
    private readonly store: NodeStore,
    readonly partition: number,
    readonly epoch: number,
  ) {}

  /** Starts the epoch: records where it begins and writes its first entry (so the epoch owns an offset). */
  async begin(nodeId: string): Promise<void> {
    await this.store.writes.submit(() => {
      const start = this.store.position(this.partition).logEnd;
      this.store.recordEpochStart(this.partition, this.epoch, start);
      const entries: LogEntry[] = [{ type: 'epoch.start', nodeId }];
      const first = this.store.append(this.partition, this.epoch, entries);
      this.store.applyAppended(this.partition, first, entries);
    });
  }

  commit(entries: LogEntry[]): Promise<ApplyEffect[]> {
    return this.store.writes.submit(() => {
      const first = this.store.append(this.partition, this.epoch, entries);
      return this.store.applyAppended(this.partition, first, entries);
    });
  }
}
