import assert from 'node:assert/strict';
import { test } from 'node:test';
import { median, percentile, percentileOfSorted, SampleBuffer, sortedCopy, spread, summarizeLatencies } from '../../src/loadgen/stats';

test('percentiles use the nearest rank: always one of the samples', () => {
  const values = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
  assert.equal(percentile(values, 50), 50);
  assert.equal(percentile(values, 99), 99);
  assert.equal(percentile(values, 100), 100);
  assert.equal(percentile(values, 0), 1);
  assert.equal(percentile(values, 99.9), 100);
  // 1000 samples: p99 is the 990th, p99.9 the 999th.
  const thousand = Array.from({ length: 1000 }, (_, i) => i + 1);
  assert.equal(percentile(thousand, 99), 990);
  assert.equal(percentile(thousand, 99.9), 999);
});

test('percentiles do not depend on input order and sort numerically', () => {
  assert.equal(percentile([10, 9, 100, 1, 2], 50), 9);
  assert.equal(percentile([3, 20, 100], 100), 100);
  assert.deepEqual([...sortedCopy([10, 9, 100, 1])], [1, 9, 10, 100]);
});

test('a single sample is every percentile', () => {
  for (const p of [0, 1, 50, 99, 100]) assert.equal(percentile([4.2], p), 4.2);
});

test('percentiles refuse no samples, p out of range and non-numbers', () => {
  assert.throws(() => percentile([], 50), RangeError);
  assert.throws(() => percentileOfSorted([1, 2], 101), RangeError);
  assert.throws(() => percentileOfSorted([1, 2], -1), RangeError);
  assert.throws(() => percentile([1, Number.NaN], 50), RangeError);
  assert.throws(() => percentile([1, Number.POSITIVE_INFINITY], 50), RangeError);
});

test('median of an odd count is the middle value, of an even count the mean of the two middle ones', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  assert.throws(() => median([]), RangeError);
});

test('spread gives min, median and max of the runs', () => {
  assert.deepEqual(spread([31_200, 29_800, 30_500]), { min: 29_800, median: 30_500, max: 31_200 });
  assert.deepEqual(spread([5]), { min: 5, median: 5, max: 5 });
  assert.deepEqual(spread([1, 2]), { min: 1, median: 1.5, max: 2 });
  assert.throws(() => spread([]), RangeError);
});

test('summarizeLatencies reports count, mean, percentiles and max', () => {
  const values = Array.from({ length: 1000 }, (_, i) => (i + 1) / 10); // 0.1 .. 100 ms
  const summary = summarizeLatencies(values);
  assert.equal(summary.count, 1000);
  assert.ok(Math.abs(summary.mean - 50.05) < 1e-9);
  assert.equal(summary.p50, 50);
  assert.equal(summary.p90, 90);
  assert.equal(summary.p99, 99);
  assert.equal(summary.p999, 99.9);
  assert.equal(summary.max, 100);
  assert.throws(() => summarizeLatencies([]), RangeError);
});

test('SampleBuffer grows past its initial capacity and keeps every sample', () => {
  const buffer = new SampleBuffer(16);
  for (let i = 0; i < 1000; i++) buffer.push(i);
  assert.equal(buffer.length, 1000);
  const values = buffer.values();
  assert.equal(values.length, 1000);
  assert.equal(values[0], 0);
  assert.equal(values[999], 999);
  assert.equal(percentile(values, 50), 499);
});
