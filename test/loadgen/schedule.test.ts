import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FixedRateSchedule, UnconfirmedWindow } from '../../src/loadgen/schedule';

test('message i is intended at start + i/rate, whatever happens to the producer', () => {
  const schedule = new FixedRateSchedule(1_000, 2_000, 2_000);
  assert.equal(schedule.intervalMs, 0.5);
  assert.equal(schedule.intendedAt(0), 1_000);
  assert.equal(schedule.intendedAt(1), 1_000.5);
  assert.equal(schedule.intendedAt(2_000), 2_000);
  // 1 s at 2,000 msg/s: messages 0..1999, the last intended at 1999.5 ms.
  assert.equal(schedule.total, 2_000);
});

test('dueBy counts the messages intended at or before now, bounded by the end', () => {
  const schedule = new FixedRateSchedule(0, 2_000, 1_000);
  assert.equal(schedule.dueBy(-1), 0);
  assert.equal(schedule.dueBy(0), 1, 'message 0 is due at the start');
  assert.equal(schedule.dueBy(0.49), 1);
  assert.equal(schedule.dueBy(0.5), 2, 'a message intended exactly now is due');
  assert.equal(schedule.dueBy(1), 3);
  assert.equal(schedule.dueBy(10), 21);
  assert.equal(schedule.dueBy(999.9), 2_000);
  assert.equal(schedule.dueBy(5_000), 2_000, 'nothing is intended at or after the end');
});

test('rates that do not divide a millisecond evenly stay exact over a long window', () => {
  const schedule = new FixedRateSchedule(0, 3, 10_000);
  assert.equal(schedule.total, 30);
  assert.equal(schedule.dueBy(1_000), 4, 'messages at 0, 333.3, 666.7 and 1000 ms');
  assert.equal(schedule.countBefore(1_000), 3);
  const tenK = new FixedRateSchedule(0, 7_000, 10_000);
  assert.equal(tenK.total, 70_000);
  assert.equal(tenK.dueBy(10_000 - 1e-6), 70_000);
});

test('countBefore and inWindow select the measured window by intended time', () => {
  const warmupMs = 500;
  const schedule = new FixedRateSchedule(0, 2_000, warmupMs + 1_000);
  const windowStart = warmupMs;
  const windowEnd = schedule.endMs;
  assert.equal(schedule.countBefore(windowEnd) - schedule.countBefore(windowStart), 2_000, 'rate × window');
  assert.equal(FixedRateSchedule.inWindow(schedule.intendedAt(999), windowStart, windowEnd), false, 'warm-up');
  assert.equal(FixedRateSchedule.inWindow(schedule.intendedAt(1_000), windowStart, windowEnd), true, 'first measured');
  assert.equal(FixedRateSchedule.inWindow(schedule.intendedAt(2_999), windowStart, windowEnd), true, 'last measured');
  assert.equal(FixedRateSchedule.inWindow(Number.NaN, windowStart, windowEnd), false, 'a message without a send time');
});

test('the schedule refuses a rate that is not positive and an end before the start', () => {
  assert.throws(() => new FixedRateSchedule(0, 0, 1), RangeError);
  assert.throws(() => new FixedRateSchedule(0, -5, 1), RangeError);
  assert.throws(() => new FixedRateSchedule(0, Number.POSITIVE_INFINITY, 1), RangeError);
  assert.throws(() => new FixedRateSchedule(10, 1, 5), RangeError);
});

test('the unconfirmed window sends what is due, never more than the limit unconfirmed', () => {
  const window = new UnconfirmedWindow(3);
  assert.equal(window.sendable(0), 0);
  assert.equal(window.sendable(2), 2);
  assert.equal(window.send(), 0);
  assert.equal(window.send(), 1);
  assert.equal(window.sendable(10), 1, 'one slot left of three');
  assert.equal(window.send(), 2);
  assert.equal(window.sendable(10), 0, 'full: the due messages wait, their intended times keep counting');
  assert.throws(() => window.send(), RangeError);
  window.settle();
  assert.equal(window.unconfirmed, 2);
  assert.equal(window.sendable(10), 1, 'a confirmation frees one slot');
  assert.equal(window.send(), 3, 'the next due message, in order');
  assert.equal(window.sent, 4);
  assert.equal(window.sendable(4), 0, 'nothing more is due');
});

test('a producer held back by the bound sends late, and the lateness is part of the latency', () => {
  // 4 messages due at 0, 1, 2, 3 ms; at most 1 unconfirmed; each confirmation takes 2.5 ms.
  const schedule = new FixedRateSchedule(0, 1_000, 4);
  const window = new UnconfirmedWindow(1);
  const sentAt: number[] = [];
  let now = 0;
  while (window.sent < schedule.total) {
    if (window.sendable(schedule.dueBy(now)) > 0) {
      const index = window.send();
      sentAt[index] = now;
      now += 2.5; // until its confirmation
      window.settle();
    } else {
      now = schedule.intendedAt(window.sent);
    }
  }
  assert.deepEqual(sentAt, [0, 2.5, 5, 7.5]);
  const lateness = sentAt.map((t, i) => t - schedule.intendedAt(i));
  assert.deepEqual(lateness, [0, 1.5, 3, 4.5], 'measured from the intended time, each later message carries the stall');
});

test('the window refuses a limit below one and a confirmation nobody waits for', () => {
  assert.throws(() => new UnconfirmedWindow(0), RangeError);
  assert.throws(() => new UnconfirmedWindow(1.5), RangeError);
  assert.throws(() => new UnconfirmedWindow(1).settle(), RangeError);
});
