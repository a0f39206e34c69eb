import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareBrokers, judgeRatios, SINGLE_NODE_RATIO_TARGETS, SINGLE_NODE_REFERENCES } from '../../bench/report';
import { formatReport } from '../../bench/report-format';
import { fakeBroker, fakeReport, fakeRun } from '../helpers/bench-report';

const ours = fakeBroker('mombroker', false, [fakeRun(1, { msgs: 31_500, p50: 1.1, p99: 3.15, max: 9, cpuUs: 29 })]);
const rabbit = fakeBroker('RabbitMQ classic', true, [fakeRun(1, { msgs: 21_000, p50: 1.25, p99: 4.2, max: 11, cpuUs: 57 })]);

test('with peers, every figure is printed with its ratio to the best peer, and the verdict names it', () => {
  const report = fakeReport([ours, rabbit]);
  report.comparison = compareBrokers(report.brokers, report.config.phases);
  report.ratioTargets = SINGLE_NODE_RATIO_TARGETS;
  report.verdict = judgeRatios(report.comparison, 'mombroker', ours.summary!, SINGLE_NODE_RATIO_TARGETS);
  const text = formatReport(report);
  assert.match(text, /peers measured in this run: RabbitMQ classic/);
  assert.match(text, /31,500 \(1\.50×\)/, 'throughput ratio');
  assert.match(text, /3\.15 \(0\.75×\)/, 'p99 ratio');
  assert.match(text, /21,000 \(1\.00×\)/, 'the best peer is 1×');
  assert.match(text, /29\.0 \(0\.51×\)/, 'CPU per message ratio');
  assert.match(text, /end-to-end 31,500 msg\/s = 1\.50× the best peer RabbitMQ classic 21,000 msg\/s; target ≥ 1\.5×: met/);
  assert.match(text, /latency p99 3\.15 ms = 0\.75× the best peer RabbitMQ classic 4\.20 ms; target ≤ 0\.75×: met/);
  assert.doesNotMatch(text, /not measured in this run/);
});

test('without peers, reference figures are labelled as not measured in this run', () => {
  const report = fakeReport([ours]);
  report.references = SINGLE_NODE_REFERENCES;
  const text = formatReport(report);
  assert.match(text, /no peer measured in this run/);
  assert.match(text, /end-to-end 31,500 msg\/s \(peers not measured in this run: 1\.26× RabbitMQ classic 25,000/);
  assert.match(text, /latency p99 3\.15 ms, p50 1\.10 ms at 2,000 msg\/s \(peers not measured in this run: p99 RabbitMQ classic 4\.15/);
  assert.match(text, /run with --peers to measure the peers now/);
  assert.doesNotMatch(text, /\(1\.\d\d×\)/, 'no ratio column without peers');
});

test('a peer that failed is named with why, and gets no ratios', () => {
  const failed = { name: 'NATS JetStream R1', peer: true, description: 'stream', runs: [], error: 'consumer closed\nstack' };
  const report = fakeReport([ours, rabbit, failed]);
  report.comparison = compareBrokers(report.brokers, report.config.phases);
  report.ratioTargets = SINGLE_NODE_RATIO_TARGETS;
  const text = formatReport(report);
  assert.match(text, /NATS JetStream R1 +stream — FAILED, left out: consumer closed$/m);
  assert.match(text, /NATS JetStream R1 +- +- +-/);
});

test('windows where the rest of the machine was busy are flagged and counted', () => {
  const busy = fakeRun(1, { msgs: 20_000, p50: 2, p99: 9, max: 20, cpuUs: 40 });
  busy.throughput.cpu = { broker: 0.8, brokerSeconds: 8, generator: 0.3, other: 0.9, machine: 2, cores: 2 };
  busy.latency.cpu = { broker: 0.6, brokerSeconds: 6, generator: 0.3, other: 0.05, machine: 0.95, cores: 2 };
  const text = formatReport(fakeReport([fakeBroker('mombroker', false, [busy])]));
  assert.match(text, / 0\.90! +40\.0/, 'the disturbed window is marked');
  assert.match(text, / 0\.05 +-/, 'the quiet one is not');
  assert.match(text, /! 1 of 2 measured windows were disturbed/);
});
