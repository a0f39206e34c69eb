import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatCount, formatDuration, formatRate, formatThroughput, formatTimestamp, previewJson } from '../../src/ui/format';

test('counts, rates and throughputs', () => {
  assert.equal(formatCount(1234567), '1,234,567');
  assert.equal(formatCount(undefined), '—');
  assert.equal(formatRate(undefined), '—');
  assert.equal(formatRate(0), '0/s');
  assert.equal(formatRate(0.001), '0/s');
  assert.equal(formatRate(2.5), '+2.5/s');
  assert.equal(formatRate(-0.333), '−0.33/s');
  assert.equal(formatRate(12.34), '+12.3/s');
  assert.equal(formatRate(150.6), '+151/s');
  assert.equal(formatRate(-100), '−100/s');
  assert.equal(formatRate(20), '+20/s');
  assert.equal(formatThroughput(0), '0/s');
  assert.equal(formatThroughput(1500.4), '1500/s');
  assert.equal(formatThroughput(3.25), '3.25/s');
  assert.equal(formatThroughput(10), '10/s');
  assert.equal(formatThroughput(2.5), '2.5/s');
});

test('durations, timestamps and payload previews', () => {
  assert.equal(formatDuration(800), '800 ms');
  assert.equal(formatDuration(12_000), '12s');
  assert.equal(formatDuration(312_000), '5m 12s');
  assert.equal(formatDuration(604_800_000), '7d');
  assert.equal(formatDuration(90_000_000), '1d 1h');
  assert.equal(formatTimestamp('2026-12-03T14:05:09.123Z'), '2026-12-03 14:05:09');
  assert.equal(formatTimestamp('yesterday'), 'yesterday');
  assert.equal(previewJson({ sku: 42 }), '{"sku":42}');
  assert.equal(previewJson('x'.repeat(300), 10), `"xxxxxxxx…`);
  assert.equal(previewJson(undefined), 'undefined');
});
