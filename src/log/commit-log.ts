import type { PartitionState } from '../coordination/coordinator';
import type { LogEntry } from '../core/entries';
import type { MomError } from '../core/errors';
import type { ApplyEffect } from '../store/state-applier';

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
  /** Starts the epoch: writes its first entry, so the epoch owns an offset (see Lifecycle). */
  start(): Promise<void>;
  /**
   * Appends `entries` and resolves with the offset of the first once committed (acks=all) or
   * stored on the leader (acks=leader). With acks=all their apply effects (which name offsets)
   * have reached the applied listener by then.
   */
  commit(entries: LogEntry[], acks: AckMode): Promise<number>;
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
  /** Stops leading: pending commits fail with a retryable error, later ones with `unavailable`. Idempotent. */
  close(): Promise<void>;
}
