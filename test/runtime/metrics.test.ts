/**
 * src/runtime/metrics.ts: the registry wrapper over prom-client. Families read at scrape time
 * keep their type (a counter stays a counter), names are checked at registration, a family
 * whose collect throws is left out instead of failing the scrape, and the text parses.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics, statusClass } from '../../src/runtime/metrics';
import { conventionProblems, parsePrometheusText, samples, value } from '../helpers/prometheus';

test('counters and gauges read at scrape time keep their Prometheus types and labels', async () => {
  const metrics = new Metrics({ processMetrics: false });
  let groups = 3;
  const perQueue = new Map([['a', 2], ['b', 5]]);
  metrics.counterFrom('mom_test_groups_total', 'groups', () => groups);
  metrics.counters('mom_test_published_total', 'published', ['exchange', 'queue', 'topic'], () =>
    [...perQueue].map(([queue, n]) => ({ labels: { exchange: 'shop', queue }, value: n })));
  metrics.gauge('mom_test_writable', 'writable', () => 1);
  const scraped = parsePrometheusText(await metrics.render());
  assert.equal(scraped.get('mom_test_groups_total')?.type, 'counter');
  assert.equal(scraped.get('mom_test_published_total')?.type, 'counter');
  assert.equal(scraped.get('mom_test_writable')?.type, 'gauge');
  assert.equal(value(scraped, 'mom_test_groups_total'), 3);
  // Labels a series does not have are absent, not empty.
  assert.deepEqual(samples(scraped, 'mom_test_published_total').map((s) => s.labels), [{ exchange: 'shop', queue: 'a' }, { exchange: 'shop', queue: 'b' }]);
  assert.deepEqual(conventionProblems(scraped), []);

  groups = 7;
  perQueue.delete('a');
  perQueue.set('b', 6);
  const again = parsePrometheusText(await metrics.render());
  assert.equal(value(again, 'mom_test_groups_total'), 7);
  assert.equal(samples(again, 'mom_test_published_total').length, 1, 'a series no longer listed is gone');
  assert.equal(value(again, 'mom_test_published_total', { exchange: 'shop', queue: 'b' }), 6);
});

test('histograms observe seconds into cumulative buckets', async () => {
  const metrics = new Metrics({ processMetrics: false });
  const histogram = metrics.histogram('mom_test_duration_seconds', 'durations', ['acks'], [0.001, 0.01, 0.1]);
  const all = histogram.series({ acks: 'all' });
  all.observe(0.005);
  all.observe(0.05);
  all.observe(5);
  assert.equal(histogram.series({ acks: 'all' }), all, 'one series per label set');
  histogram.series({ acks: 'leader' }).observe(0.001); // on a bound: in that bucket
  const unlabelled = metrics.histogram('mom_test_commit_seconds', 'commits', [], [1, 2]);
  unlabelled.observe(1.5);
  unlabelled.observe(Number.NaN);
  const scraped = parsePrometheusText(await metrics.render());
  assert.equal(scraped.get('mom_test_duration_seconds')?.type, 'histogram');
  assert.equal(value(scraped, 'mom_test_duration_seconds_bucket', { acks: 'all', le: '0.01' }), 1);
  assert.equal(value(scraped, 'mom_test_duration_seconds_bucket', { acks: 'all', le: '+Inf' }), 3);
  assert.equal(value(scraped, 'mom_test_duration_seconds_count', { acks: 'all' }), 3);
  assert.equal(value(scraped, 'mom_test_duration_seconds_sum', { acks: 'all' }), 5.055);
  assert.equal(value(scraped, 'mom_test_duration_seconds_bucket', { acks: 'leader', le: '0.001' }), 1);
  assert.equal(value(scraped, 'mom_test_commit_seconds_bucket', { le: '1' }), 1, 'NaN counted as 0');
  assert.equal(value(scraped, 'mom_test_commit_seconds_bucket', { le: '2' }), 2);
  assert.equal(value(scraped, 'mom_test_commit_seconds_count'), 2);
  assert.deepEqual(conventionProblems(scraped), []);
  assert.throws(() => metrics.histogram('mom_test_bad_seconds', 'bad', [], [2, 1]), /buckets must increase/);
});

test('names are checked at registration: mom_ first, _total exactly on counters', () => {
  const metrics = new Metrics({ processMetrics: false });
  assert.throws(() => metrics.gauge('queue_depth', 'x', () => 0), /start with mom_/);
  assert.throws(() => metrics.counterFrom('mom_things', 'x', () => 0), /counter ends in _total/);
  assert.throws(() => metrics.gauge('mom_things_total', 'x', () => 0), /does not end in _total/);
  metrics.gauge('mom_things', 'x', () => 0);
  assert.throws(() => metrics.gauge('mom_things', 'x', () => 0), /already been registered/);
});

test('a family whose collect throws is left out, and the scrape goes on', async () => {
  const failures: string[] = [];
  const metrics = new Metrics({ processMetrics: false, onCollectError: (name) => failures.push(name) });
  metrics.gauge('mom_test_broken', 'broken', () => {
    throw new Error('store closed');
  });
  metrics.gauge('mom_test_fine', 'fine', () => 2);
  const scraped = parsePrometheusText(await metrics.render());
  assert.equal(samples(scraped, 'mom_test_broken').length, 0);
  assert.equal(value(scraped, 'mom_test_fine'), 2);
  assert.deepEqual(failures, ['mom_test_broken']);
});

test('process metrics come with every registry, and registries in one process are independent', async () => {
  const one = new Metrics();
  const two = new Metrics();
  one.gauge('mom_test_one', 'one', () => 1);
  two.gauge('mom_test_one', 'two', () => 2);
  const scraped = parsePrometheusText(await one.render());
  assert.equal(scraped.get('process_cpu_seconds_total')?.type, 'counter');
  assert.equal(scraped.get('process_resident_memory_bytes')?.type, 'gauge');
  assert.equal(scraped.get('nodejs_eventloop_lag_seconds')?.type, 'gauge');
  assert.equal(value(scraped, 'mom_test_one'), 1);
  assert.equal(value(parsePrometheusText(await two.render()), 'mom_test_one'), 2);
  assert.match(one.contentType, /^text\/plain; version=0\.0\.4/);
});

test('statusClass', () => {
  assert.equal(statusClass(201), '2xx');
  assert.equal(statusClass(421), '4xx');
  assert.equal(statusClass(507), '5xx');
  assert.equal(statusClass(0), 'other');
});

test('the test parser refuses malformed text', () => {
  assert.throws(() => parsePrometheusText('mom_x 1\n'), /no declared family/);
  assert.throws(() => parsePrometheusText('# TYPE mom_x gauge\nmom_x{a="1} 1\n'), /unterminated/);
  assert.throws(() => parsePrometheusText('# TYPE mom_x gauge\nmom_x{a=1} 1\n'), /not quoted/);
  assert.throws(() => parsePrometheusText('# TYPE mom_x gauge\nmom_x one\n'), /bad value/);
  const parsed = parsePrometheusText('# HELP mom_x a\\\\b\n# TYPE mom_x gauge\nmom_x{a="q\\"uo\\\\te",b="x"} +Inf\n');
  assert.deepEqual(samples(parsed, 'mom_x')[0], { name: 'mom_x', labels: { a: 'q"uo\\te', b: 'x' }, value: Infinity });
  assert.equal(parsed.get('mom_x')?.help, 'a\\b');
});
