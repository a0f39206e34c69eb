/**
 * GET /metrics of `--role all` after real traffic (issue 9 §3, DESIGN §8): Prometheus text
 * that parses, counters typed counter, per queue and per subscription series labelled
 * `exchange`, `queue` / `topic` + `subscription` whose values move with what was done,
 * histograms of publish and request durations with bounded labels, the store's and the
 * partitions' series, process metrics, and the bound on queues with series of their own.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startBroker} from '../helpers/broker';
import { waitFor } from '../helpers/wait';
import { openStream } from '../helpers/event-stream';
import { adminApi, uniqueName } from '../helpers/http-api';
import { conventionProblems, samples, scrape, value, valueOrUndefined, type Scrape } from '../helpers/prometheus';

const LIMIT = 3;

test('GET /metrics of --role all after traffic', { timeout: 120_000 }, async (t) => {
  const broker = await startBroker(t, { args: ['--metrics-max-queues', String(LIMIT)] });
  const api = await adminApi(broker);
  const exchange = uniqueName('metrics');
  await api.declareExchange(exchange);
  await api.declareQueue(exchange, 'orders', { max_deliveries: 0 });
  await api.declareTopic(exchange, 'news');
  await api.subscribe(exchange, 'news', 'audit');
  const orders = `/v1/exchanges/${exchange}/queues/orders`;
  const news = `/v1/exchanges/${exchange}/topics/news`;
  const audit = `${news}/subscriptions/audit`;
  const q = { exchange, queue: 'orders' };
  const s = { exchange, topic: 'news', subscription: 'audit' };

  const before = await scrape(broker.url);

  await t.test('every family follows the conventions; process metrics and the build are there', () => {
    assert.deepEqual(conventionProblems(before), []);
    for (const family of before.values()) {
      if (family.name.startsWith('mom_') && family.name.endsWith('_total')) assert.equal(family.type, 'counter', family.name);
    }
    assert.equal(before.get('process_cpu_seconds_total')?.type, 'counter');
    assert.ok(value(before, 'process_resident_memory_bytes') > 0);
    assert.ok(before.has('nodejs_eventloop_lag_seconds'));
    assert.ok(before.has('nodejs_gc_duration_seconds'));
    assert.equal(value(before, 'mom_build_info', { version: '0.1.0', roles: 'auth,gateway,node' }), 1);
    assert.ok(value(before, 'mom_auth_logins_total') >= 1, 'the admin logged in');
    assert.equal(value(before, 'mom_store_writable'), 1);
    assert.ok(value(before, 'mom_store_file_bytes', { file: 'database' }) > 0);
    assert.equal(value(before, 'mom_partitions_led'), 16);
    assert.equal(value(before, 'mom_metrics_queues_limit'), LIMIT);
  });

  await t.test('publish 5, pull, nack, pull again, ack, dead-letter: the counters and gauges follow', async () => {
    await api.publish(orders, [1, 2, 3, 4, 5].map((n) => ({ payload: n })));
    let scraped = await scrape(broker.url);
    assert.deepEqual(samples(scraped, 'mom_messages_published_total', q).map((x) => x.labels), [q], 'labelled exchange and queue, nothing else');
    assert.equal(value(scraped, 'mom_messages_published_total', q), 5);
    assert.equal(value(scraped, 'mom_messages_ready', q), 5);
    assert.equal(value(scraped, 'mom_messages_in_flight', q), 0);

    const first = await api.pull(orders, { max: 3, lease_ms: 60_000 });
    assert.equal(first.length, 3);
    scraped = await scrape(broker.url);
    assert.equal(value(scraped, 'mom_messages_delivered_total', q), 3);
    assert.equal(value(scraped, 'mom_messages_ready', q), 2);
    assert.equal(value(scraped, 'mom_messages_in_flight', q), 3);

    await api.nack(orders, [first[0]!.id], true);
    await api.nack(orders, [first[1]!.id], false); // dead-lettered at once
    await api.ack(orders, [first[2]!.id]);
    const second = await api.pull(orders, { max: 10, lease_ms: 60_000 });
    assert.equal(second.length, 3, 'the nacked one again, and the two never delivered');
    await api.ack(orders, second.map((m) => m.id));

    scraped = await scrape(broker.url);
    assert.equal(value(scraped, 'mom_messages_published_total', q), 5);
    assert.equal(value(scraped, 'mom_messages_delivered_total', q), 6);
    assert.equal(value(scraped, 'mom_messages_redelivered_total', q), 1);
    assert.equal(value(scraped, 'mom_messages_nacked_total', q), 2);
    assert.equal(value(scraped, 'mom_messages_acked_total', q), 4);
    assert.equal(value(scraped, 'mom_messages_ready', q), 0);
    assert.equal(value(scraped, 'mom_messages_in_flight', q), 0);
    assert.equal(value(scraped, 'mom_dead_letters', q), 1);
  });

  await t.test('a topic counts its publishes, its subscription what it delivered; a stream shows while open', async () => {
    await api.publish(news, [{ payload: 'a' }, { payload: 'b' }]);
    const pulled = await api.pull(audit, { max: 10 });
    assert.equal(pulled.length, 2);
    await api.ack(audit, pulled.map((m) => m.id));
    let scraped = await scrape(broker.url);
    assert.equal(value(scraped, 'mom_messages_published_total', { exchange, topic: 'news' }), 2);
    assert.equal(value(scraped, 'mom_messages_delivered_total', s), 2);
    assert.equal(value(scraped, 'mom_messages_acked_total', s), 2);
    assert.equal(value(scraped, 'mom_messages_ready', s), 0);
    assert.equal(value(scraped, 'mom_streams_open', s), 0);

    const stream = await openStream(broker.url, audit, api.token);
    try {
      assert.equal(stream.status, 200);
      await waitFor('the stream in mom_streams_open', async () => value(await scrape(broker.url), 'mom_streams_open', s) === 1, { retryErrors: true });
      await api.publish(news, [{ payload: 'c' }]);
      const [message] = await stream.messages(1);
      scraped = await scrape(broker.url);
      assert.equal(value(scraped, 'mom_messages_delivered_total', s), 3, 'a stream\'s delivery counts');
      assert.equal(value(scraped, 'mom_messages_in_flight', s), 1);
      await api.ack(audit, [message!.id]);
    } finally {
      stream.close();
    }
    await waitFor('the closed stream gone from mom_streams_open', async () => value(await scrape(broker.url), 'mom_streams_open', s) === 0, { retryErrors: true });
  });

  await t.test('publish and request durations: histograms with bounded labels', async () => {
    assert.equal((await api.get(`/v1/exchanges/${exchange}/queues/no-such-queue`)).status, 404);
    assert.equal((await api.get('/no/such/route')).status, 404);
    const scraped = await scrape(broker.url);
    assert.deepEqual(conventionProblems(scraped), []);
    assert.ok(value(scraped, 'mom_publish_duration_seconds_count', { acks: 'all' }) >= 3);
    const route = '/v1/exchanges/:ex/queues/:q/messages';
    assert.ok(value(scraped, 'mom_http_request_duration_seconds_count', { method: 'POST', route, status_class: '2xx' }) >= 1);
    assert.ok(value(scraped, 'mom_http_request_duration_seconds_count', { method: 'GET', route: '/v1/exchanges/:ex/queues/:q', status_class: '4xx' }) >= 1);
    assert.ok(value(scraped, 'mom_http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status_class: '4xx' }) >= 1);
    // Route labels are the route table's patterns: no queue name, id or query ever becomes a label value.
    for (const sample of samples(scraped, 'mom_http_request_duration_seconds_count')) {
      assert.ok(sample.labels.route === 'unmatched' || !sample.labels.route!.includes(exchange), `route label ${sample.labels.route}`);
      assert.match(sample.labels.status_class!, /^[1-5]xx$/);
    }
  });

  await t.test('the store and the partitions', async () => {
    const scraped = await scrape(broker.url);
    assert.ok(value(scraped, 'mom_store_group_commits_total') > value(before, 'mom_store_group_commits_total'));
    assert.ok(value(scraped, 'mom_store_syncs_total') > 0);
    assert.equal(value(scraped, 'mom_store_commit_duration_seconds_count'), value(scraped, 'mom_store_group_commits_total'), 'one observation per group');
    assert.ok(value(scraped, 'mom_store_fsync_duration_seconds_count') > 0);
    const partitions = samples(scraped, 'mom_partition_high_watermark');
    assert.equal(partitions.length, 16);
    for (const partition of partitions) {
      const labels = { partition: partition.labels.partition! };
      assert.equal(value(scraped, 'mom_partition_isr_size', labels), 1);
      assert.equal(value(scraped, 'mom_partition_replicas', labels), 1);
      assert.equal(partition.value, value(scraped, 'mom_partition_log_end_offset', labels), 'a single replica commits what it appends');
      assert.equal(value(scraped, 'mom_partition_leader_changes_total', labels), 0);
    }
    assert.ok(Math.max(...partitions.map((p) => p.value)) > 1, 'the log of the queue\'s partition grew');
    assert.equal(samples(scraped, 'mom_partition_follower_lag_entries').length, 0, 'no followers on a single node');
  });

  await t.test(`past --metrics-max-queues ${LIMIT}, the rest are summed into .other`, async () => {
    // orders, news and audit hold the 3 slots; these two have none.
    for (const name of ['zz-1', 'zz-2']) {
      await api.declareQueue(exchange, name);
      await api.publish(`/v1/exchanges/${exchange}/queues/${name}`, [{ payload: name }]);
    }
    const scraped: Scrape = await scrape(broker.url);
    const other = { exchange: '.other', queue: '.other' };
    assert.equal(value(scraped, 'mom_messages_published_total', other), 2);
    assert.equal(value(scraped, 'mom_messages_ready', other), 2);
    assert.equal(value(scraped, 'mom_metrics_queues_aggregated'), 2);
    assert.equal(valueOrUndefined(scraped, 'mom_messages_published_total', { exchange, queue: 'zz-1' }), undefined);
    const queues = new Set(samples(scraped, 'mom_messages_ready').map((x) => x.labels.queue ?? x.labels.subscription));
    assert.deepEqual([...queues].sort(), ['.other', 'audit', 'orders']);

    // Deleting orders frees its slot: zz-1 (first by name) takes it at the next scrape.
    assert.equal((await api.delete(orders)).status, 200);
    const after = await scrape(broker.url);
    assert.equal(valueOrUndefined(after, 'mom_messages_published_total', q), undefined, 'a deleted queue\'s series go');
    assert.equal(value(after, 'mom_messages_ready', { exchange, queue: 'zz-1' }), 1);
    assert.equal(value(after, 'mom_metrics_queues_aggregated'), 1);
  });
});

test('GET /metrics needs a token with --metrics-require-auth', { timeout: 60_000 }, async (t) => {
  const broker = await startBroker(t, { args: ['--metrics-require-auth', 'true'] });
  assert.equal((await fetch(`${broker.url}/metrics`)).status, 401);
  const api = await adminApi(broker);
  const scraped = await scrape(broker.url, { headers: { authorization: `Bearer ${api.token}` } });
  assert.ok(scraped.has('mom_store_writable'));
});
