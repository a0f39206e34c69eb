import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareBrokers, judgeRatios, metricsFor, SINGLE_NODE_RATIO_TARGETS, CLUSTER_RATIO_TARGETS, summarize } from '../../bench/report';
import { fakeBroker, fakeRun } from '../helpers/bench-report';

const ours = fakeBroker('mombroker', false, [
  fakeRun(1, { msgs: 30_000, p50: 1.0, p99: 3.0, max: 9, cpuUs: 28 }),
  fakeRun(2, { msgs: 36_000, p50: 1.2, p99: 2.9, max: 7, cpuUs: 29 }),
  fakeRun(3, { msgs: 33_000, p50: 1.1, p99: 3.2, max: 8, cpuUs: 31 }),
]);
const rabbit = fakeBroker('RabbitMQ classic', true, [
  fakeRun(1, { msgs: 20_000, p50: 1.2, p99: 4.0, max: 10, cpuUs: 57 }),
  fakeRun(2, { msgs: 22_000, p50: 1.3, p99: 4.4, max: 12, cpuUs: 55 }),
  fakeRun(3, { msgs: 21_000, p50: 1.25, p99: 4.2, max: 11, cpuUs: 60 }),
]);
const nats = fakeBroker('NATS JetStream R1', true, [
  fakeRun(1, { msgs: 18_000, p50: 1.1, p99: 4.7, max: 20, cpuUs: 40 }),
  fakeRun(2, { msgs: 19_000, p50: 1.2, p99: 4.8, max: 21, cpuUs: 42 }),
  fakeRun(3, { msgs: 17_000, p50: 1.15, p99: 5.0, max: 19, cpuUs: 41 }),
]);

test('summarize gives min/median/max of every figure, CPU per message included', () => {
  assert.deepEqual(ours.summary!.consumedPerSecond, { min: 30_000, median: 33_000, max: 36_000 });
  assert.deepEqual(ours.summary!.latencyP99Ms, { min: 2.9, median: 3.0, max: 3.2 });
  assert.deepEqual(ours.summary!.throughputCpuUsPerMessage, { min: 28, median: 29, max: 31 });
  assert.equal(ours.summary!.latencyCpuUsPerMessage, undefined, 'not read in every run: no spread');
});

test('CPU per message is left out of the summary when one run could not read /proc', () => {
  const summary = summarize([fakeRun(1, { msgs: 1, p50: 1, p99: 1, max: 1, cpuUs: 10 }), fakeRun(2, { msgs: 1, p50: 1, p99: 1, max: 1 })]);
  assert.equal(summary.throughputCpuUsPerMessage, undefined);
});

test('compareBrokers divides each figure by the best peer of the same run', () => {
  const comparison = compareBrokers([ours, rabbit, nats], ['throughput', 'latency']);
  assert.deepEqual(comparison.bestPeer.consumedPerSecond!.median, { broker: 'RabbitMQ classic', value: 21_000 });
  assert.deepEqual(comparison.bestPeer.latencyP50Ms!.median, { broker: 'NATS JetStream R1', value: 1.15 });
  assert.deepEqual(comparison.bestPeer.throughputCpuUsPerMessage!.median, { broker: 'NATS JetStream R1', value: 41 });
  assert.equal(comparison.ratios.mombroker!.consumedPerSecond!.median, 33_000 / 21_000);
  assert.equal(comparison.ratios.mombroker!.latencyP99Ms!.median, 3.0 / 4.2);
  assert.equal(comparison.ratios['NATS JetStream R1']!.latencyP99Ms!.median, 4.8 / 4.2);
});

test('only the phases measured are compared', () => {
  const comparison = compareBrokers([ours, rabbit], ['latency']);
  assert.equal(comparison.ratios.mombroker!.consumedPerSecond, undefined);
  assert.ok(comparison.ratios.mombroker!.latencyP99Ms);
  assert.deepEqual(
    metricsFor(['throughput']).map((m) => m.key),
    ['consumedPerSecond', 'publishedPerSecond', 'throughputCpuUsPerMessage'],
  );
});

test('issue 8 single-node targets: throughput ≥ 1.5×, p99 ≤ 0.75×, p50 ≤ 1×, CPU ≤ 30 µs', () => {
  const comparison = compareBrokers([ours, rabbit, nats], ['throughput', 'latency']);
  const verdict = judgeRatios(comparison, 'mombroker', ours.summary!, SINGLE_NODE_RATIO_TARGETS);
  assert.equal(verdict.basis, 'peers');
  assert.equal(verdict.throughputMet, true, `33,000 / 21,000 = 1.57×`);
  assert.equal(verdict.p99Met, true, '3.0 / 4.2 = 0.71×');
  assert.equal(verdict.p50Met, true, '1.1 / 1.15');
  assert.equal(verdict.cpuMet, true, '29 µs');

  const slow = fakeBroker('mombroker', false, [fakeRun(1, { msgs: 30_000, p50: 1.2, p99: 3.5, max: 9, cpuUs: 43 })]);
  const worse = judgeRatios(compareBrokers([slow, rabbit, nats], ['throughput', 'latency']), 'mombroker', slow.summary!, SINGLE_NODE_RATIO_TARGETS);
  assert.deepEqual(worse, { basis: 'peers', throughputMet: false, p99Met: false, p50Met: false, cpuMet: false });
});

test('cluster targets judge throughput ≥ 2× and p99 ≤ 0.75× only', () => {
  const comparison = compareBrokers([ours, rabbit], ['throughput', 'latency']);
  const verdict = judgeRatios(comparison, 'mombroker', ours.summary!, CLUSTER_RATIO_TARGETS);
  assert.equal(verdict.throughputMet, false, '1.57× < 2×');
  assert.equal(verdict.p99Met, true);
  assert.equal(verdict.p50Met, undefined);
  assert.equal(verdict.cpuMet, undefined);
});

test('without any peer figure the ratio targets are not met (nothing to compare with)', () => {
  const comparison = compareBrokers([ours], ['throughput', 'latency']);
  const verdict = judgeRatios(comparison, 'mombroker', ours.summary!, CLUSTER_RATIO_TARGETS);
  assert.equal(verdict.throughputMet, false);
  assert.equal(verdict.p99Met, false);
});
