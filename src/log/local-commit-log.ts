import type { LogEntry } from '../core/entries';
import { MomError } from '../core/errors';
import type { NodeStore } from '../store/node-store';
import type { AckMode, AppliedListener, CommitLog } from './commit-log';

/**
 * One replica: an entry is committed when its group's transaction is (DESIGN §1 `all`). Its
 * effects (a message to deliver, an ack's freed credit) go out at once, and the caller is
 * answered only after the fsync that covers it, as RabbitMQ delivers a message before it
 * confirms it: a power loss in between can take back a message a consumer already has, never
 * one whose publish was answered. The fsync (0.3-1 ms, more under load) thus stays off the
 * publish-to-consume path.
 */
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
  async start(): Promise<void> {
    await this.commit([{ type: 'epoch.start', nodeId: this.nodeId }], 'all', true);
  }

  onApplied(listener: AppliedListener): void {
    this.listener = listener;
  }

  async commit(entries: LogEntry[], _acks: AckMode, startsEpoch = false): Promise<number> {
    if (this.closed) throw new MomError('unavailable', `partition ${this.partition} is no longer led here; retry`);
    const { first, effects } = await this.store.writes.submit(
      () => {
        if (startsEpoch) this.store.recordEpochStart(this.partition, this.epoch, this.store.position(this.partition).logEnd);
        const first = this.store.append(this.partition, this.epoch, entries);
        const effects = this.store.applyAppended(this.partition, first, entries);
        // No other replica reads this log: settled messages can go at once.
        this.store.compactApplied(this.partition, first, entries, effects);
        return { first, effects };
      },
      { durable: false },
    );
    this.listener(effects);
    await this.store.writes.whenDurable();
    return first;
  }

  notReady(): MomError | undefined {
    return undefined;
  }

  compactionFloor(): number {
    return Number.MAX_SAFE_INTEGER;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
