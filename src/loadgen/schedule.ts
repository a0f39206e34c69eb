/**
 * The latency workload's send schedule, pure (no clocks, no I/O): message i is intended to
 * leave at `startMs + i × 1000 / rate`, whether or not the producer can send it then, and its
 * latency is measured from that intended time. A producer held back — by its bound on
 * unconfirmed publishes, or by a busy event loop — sends late, and the delay counts in the
 * latency of every message that should have left meanwhile: a stall shows as many slow
 * samples, not as one (no "coordinated omission").
 */

export class FixedRateSchedule {
  readonly intervalMs: number;
  /** Messages intended before `endMs`: the whole phase, warm-up included. */
  readonly total: number;

  /**
   * @param startMs intended time of message 0
   * @param rate messages per second
   * @param endMs no message is intended at or after this time
   */
  constructor(
    readonly startMs: number,
    readonly rate: number,
    readonly endMs: number,
  ) {
    if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`rate: expected a positive number, got ${rate}`);
    if (!(endMs >= startMs)) throw new RangeError(`endMs (${endMs}) must not be before startMs (${startMs})`);
    this.intervalMs = 1000 / rate;
    this.total = this.countBefore(endMs);
  }

  /** When message `index` (0-based) is intended to leave. */
  intendedAt(index: number): number {
    return this.startMs + index * this.intervalMs;
  }

  /** How many messages are due by `nowMs` (intended at or before it), never more than `total`. */
  dueBy(nowMs: number): number {
    if (nowMs < this.startMs) return 0;
    // The small tolerance keeps a message intended exactly at nowMs due despite rounding.
    return Math.min(this.total, Math.floor((nowMs - this.startMs) / this.intervalMs + 1e-9) + 1);
  }

  /** How many messages are intended strictly before `timeMs`. */
  countBefore(timeMs: number): number {
    if (timeMs <= this.startMs) return 0;
    return Math.ceil((timeMs - this.startMs) / this.intervalMs - 1e-9);
  }

  /** Whether an intended time falls in the measured window [fromMs, toMs). */
  static inWindow(intendedMs: number, fromMs: number, toMs: number): boolean {
    return intendedMs >= fromMs && intendedMs < toMs;
  }
}

/**
 * Which scheduled messages a producer may send now: those due and not yet sent, as long as
 * fewer than `limit` publishes are unconfirmed (the peers' "up to 500 unconfirmed"
 * producer). The caller reports sends and confirmations; nothing here reads a clock.
 */
export class UnconfirmedWindow {
  private sentCount = 0;
  private unconfirmedCount = 0;

  constructor(readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit: expected a positive integer, got ${limit}`);
  }

  /** Messages handed to the broker so far (the next one to send has this index). */
  get sent(): number {
    return this.sentCount;
  }

  get unconfirmed(): number {
    return this.unconfirmedCount;
  }

  /** How many of the first `due` messages may be sent now. */
  sendable(due: number): number {
    return Math.max(0, Math.min(due - this.sentCount, this.limit - this.unconfirmedCount));
  }

  /** Records that the next message was sent; returns its index. */
  send(): number {
    if (this.unconfirmedCount >= this.limit) throw new RangeError(`send: ${this.limit} publishes are already unconfirmed`);
    this.unconfirmedCount++;
    return this.sentCount++;
  }

  /** A publish was confirmed (or failed): its slot is free again. */
  settle(): void {
    if (this.unconfirmedCount === 0) throw new RangeError('settle: no publish is unconfirmed');
    this.unconfirmedCount--;
  }
}
