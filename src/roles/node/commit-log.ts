import type { PartitionState } from '../../coordination/coordinator';
import type { LogEntry } from '../../core/entries';
import { MomError } from '../../core/errors';
import type { NodeStore } from '../../store/node-store';
import type { ApplyEffect } from '../../store/state-applier';

export type AckMode = 'all' | 'leader';

export type AppliedListener = (effects: ApplyEffect[]) => void;

/**
 * How a partition leader makes entries durable and applied. The single-replica implementation
 * appends and applies in one group-committed transaction; the replicated one appends, waits
 * for the in-sync replicas, then applies up to the high watermark (DESIGN §5). Either way,
 * what applying changed reaches the applied listener in offset order, before `commit`
 * resolves for acks=all.
 */
export interface CommitLog {
  readonly partition: number;
  readonly epoch: number;
  begin(): Promise<void>;
  commit(entries: LogEntry[], acks: AckMode): Promise<void>;
  onApplied(listener: AppliedListener): void;
  /**
   * Undefined once this leader knows everything committed before its epoch; until its own
   * first entry is applied, state from earlier epochs may be missing, so it must not answer:
   * the error says why (e.g. not enough in-sync replicas to commit anything).
   */
  notReady(): MomError | undefined;
  /** Log entries below this offset are on every replica and may be compacted. */
  compactionFloor(): number;
  /** A newer copy of the partition's state while this log leads it (ISR, replicas). */
  updateState?(state: PartitionState): void;
  /** Stops leading: pending commits fail with a retryable error. Idempotent. */
  close(): void;
}

/** One replica: an entry is committed when its group's transaction is (DESIGN §1 `all`). */
export class LocalCommitLog implements CommitLog {
  private listener: AppliedListener = () => {};
  private closed = false;

  constructor(
    private readonly store: NodeStore,
    readonly partition: number,
    readonly epoch: number,
    private readonly nodeId: string,
  ) {}

  /** Starts the epoch: records where it begins and writes its first entry, so the epoch owns an offset. */
  async begin(): Promise<void> {
    await this.commit([{ type: 'epoch.start', nodeId: this.nodeId }], 'all', true);
  }

  onApplied(listener: AppliedListener): void {
    this.listener = listener;
  }

  async commit(entries: LogEntry[], _acks: AckMode, startsEpoch = false): Promise<void> {
    if (this.closed) throw new MomError('unavailable', `partition ${this.partition} is no longer led here; retry`);
    const effects = await this.store.writes.submit(() => {
      if (startsEpoch) this.store.recordEpochStart(this.partition, this.epoch, this.store.position(this.partition).logEnd);
      const first = this.store.append(this.partition, this.epoch, entries);
      const effects = this.store.applyAppended(this.partition, first, entries);
      // No other replica reads this log: settled messages can go at once.
      this.store.compactApplied(this.partition, first, entries, effects);
      return effects;
    });
    this.listener(effects);
  }

  notReady(): MomError | undefined {
    return undefined;
  }

  compactionFloor(): number {
    return Number.MAX_SAFE_INTEGER;
  }

  close(): void {
    this.closed = true;
  }
}
