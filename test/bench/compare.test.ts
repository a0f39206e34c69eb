import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bestPeer, compareToBestPeer, formatRatio, ratio, type BrokerFigures, type MetricSpec } from '../../bench/compare';

const THROUGHPUT: MetricSpec = { key: 'msgs', better: 'higher' };
const P99: MetricSpec = { key: 'p99', better: 'lower' };

const brokers: BrokerFigures[] = [
  { name: 'mombroker', peer: false, figures: { msgs: { min: 28_000, median: 30_000, max: 33_000 }, p99: { min: 3, median: 4, max: 9 } } },
  { name: 'rabbit', peer: true, figures: { msgs: { min: 19_000, median: 20_000, max: 21_000 }, p99: { min: 4, median: 4.15, max: 5 } } },
  { name: 'nats', peer: true, figures: { msgs: { min: 15_000, median: 25_000, max: 26_000 }, p99: { min: 2, median: 4.7, max: 6 } } },
];

test('the best peer is the highest throughput and the lowest latency, per figure', () => {
  assert.deepEqual(bestPeer(brokers, THROUGHPUT, 'median'), { broker: 'nats', value: 25_000 });
  assert.deepEqual(bestPeer(brokers, THROUGHPUT, 'min'), { broker: 'rabbit', value: 19_000 }, 'the best min may come from another peer');
  assert.deepEqual(bestPeer(brokers, P99, 'median'), { broker: 'rabbit', value: 4.15 });
  assert.deepEqual(bestPeer(brokers, P99, 'min'), { broker: 'nats', value: 2 });
});

test('the broker under test is never its own yardstick, even when it is best', () => {
  const best = bestPeer(brokers, THROUGHPUT, 'max');
  assert.deepEqual(best, { broker: 'nats', value: 26_000 }, 'mombroker has 33,000 but is not a peer');
});

test('every broker figure, peers included, is divided by the best peer figure', () => {
  const comparison = compareToBestPeer(brokers, [THROUGHPUT, P99]);
  assert.equal(comparison.ratios.mombroker!.msgs!.median, 30_000 / 25_000);
  assert.equal(comparison.ratios.mombroker!.msgs!.min, 28_000 / 19_000);
  assert.equal(comparison.ratios.mombroker!.p99!.median, 4 / 4.15);
  assert.equal(comparison.ratios.mombroker!.p99!.max, 9 / 5);
  assert.equal(comparison.ratios.rabbit!.p99!.median, 1, 'the best peer is 1× of itself');
  assert.equal(comparison.ratios.nats!.msgs!.median, 1);
  assert.deepEqual(comparison.bestPeer.p99!.median, { broker: 'rabbit', value: 4.15 });
});

test('missing figures and peers that moved nothing give no ratio, not a wrong one', () => {
  const partial: BrokerFigures[] = [
    { name: 'mombroker', peer: false, figures: { msgs: { min: 1, median: 2, max: 3 } } },
    { name: 'dead', peer: true, figures: { msgs: { min: 0, median: 0, max: 0 } } },
    { name: 'absent', peer: true, figures: {} },
  ];
  const comparison = compareToBestPeer(partial, [THROUGHPUT, P99]);
  assert.deepEqual(comparison.ratios.mombroker!.msgs, { min: null, median: null, max: null });
  assert.deepEqual(comparison.ratios.mombroker!.p99, { min: null, median: null, max: null });
  assert.deepEqual(comparison.bestPeer.msgs, {});
  assert.equal(compareToBestPeer([{ name: 'mombroker', peer: false, figures: {} }], [P99]).bestPeer.p99!.median, undefined, 'no peers at all');
});

test('ratio refuses what cannot be divided', () => {
  assert.equal(ratio(3, 2), 1.5);
  assert.equal(ratio(undefined, 2), null);
  assert.equal(ratio(3, undefined), null);
  assert.equal(ratio(3, 0), null);
  assert.equal(ratio(Number.NaN, 2), null);
});

test('ratios print with two decimals, one past 10', () => {
  assert.equal(formatRatio(1.23456), '1.23×');
  assert.equal(formatRatio(0.75), '0.75×');
  assert.equal(formatRatio(12.34), '12.3×');
  assert.equal(formatRatio(null), '-');
});
