/**
 * GET /metrics on every role of a real cluster (issue 9 §3, DESIGN §8: "/metrics on every
 * role"): three nodes, auth, a partitioner and a gateway, each scraped after traffic through
 * the gateway and again after the leader of a queue's partition is killed. Each answers
 * Prometheus text that parses, with process metrics and its own families: the gateway its
 * forwarding and retries, auth its logins, the partitioner the cluster's health and leader
 * changes, the nodes their queues and their replication (ISR, follower lag, high watermark).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCluster } from '../helpers/cluster';
import { queuePath } from '../helpers/workloads';
import { uniqueName } from '../helpers/http-api';
import { conventionProblems, samples, scrape, scrapeUntil, value, valueOrUndefined, type Scrape } from '../helpers/prometheus';

function sum(scraped: Scrape, name: string, labels: Record<string, string> = {}): number {
  return samples(scraped, name, labels).reduce((total, sample) => total + sample.value, 0);
}

function checkCommon(scraped: Scrape, roles: string, what: string): void {
  assert.deepEqual(conventionProblems(scraped), [], what);
  assert.equal(scraped.get('process_cpu_seconds_total')?.type, 'counter', `${what}: process metrics`);
  assert.ok(value(scraped, 'process_resident_memory_bytes') > 0, `${what}: process metrics`);
  assert.ok(scraped.has('nodejs_eventloop_lag_seconds'), `${what}: Node.js metrics`);
  assert.equal(samples(scraped, 'mom_build_info', { roles }).length, 1, `${what}: mom_build_info names its roles ${roles}`);
  assert.equal(scraped.get('mom_http_request_duration_seconds')?.type, 'histogram', `${what}: request durations`);
}

test('GET /metrics on every role of a cluster', { timeout: 180_000 }, async (t) => {
  const cluster = await startCluster(t, { nodes: 3, partitions: 4 });
  const api = await cluster.api();
  const exchange = uniqueName('metrics');
  const queue = 'orders';
  await api.declareExchange(exchange);
  await api.declareQueue(exchange, queue);
  const path = queuePath(exchange, queue);
  await api.publish(path, [1, 2, 3, 4, 5].map((n) => ({ payload: n })));
  const pulled = await api.pull(path, { max: 10 });
  assert.equal(pulled.length, 5);
  await api.ack(path, pulled.map((m) => m.id));
  const partition = String(cluster.partitionOf(exchange, queue));
  const leader = (await cluster.leaderOf(exchange, queue))!;
  const q = { exchange, queue };

  await t.test('the gateway: its forwarding and the requests it served', async () => {
    const scraped = await scrape(cluster.gatewayUrl);
    checkCommon(scraped, 'gateway', 'gateway');
    assert.ok(value(scraped, 'mom_gateway_requests_total', { outcome: 'answered' }) >= 5, 'declares, publish, pull and ack were forwarded');
    assert.equal(value(scraped, 'mom_gateway_requests_total', { outcome: 'unavailable' }), 0);
    assert.equal(value(scraped, 'mom_gateway_streams_open'), 0);
    assert.ok(value(scraped, 'mom_http_request_duration_seconds_count', { method: 'POST', route: '/v1/exchanges/:ex/queues/:q/messages', status_class: '2xx' }) >= 1);
    assert.equal(samples(scraped, 'mom_store_writable').length, 0, 'a gateway has no store');
  });

  await t.test('auth: logins', async () => {
    const scraped = await scrape(cluster.authUrl);
    checkCommon(scraped, 'auth', 'auth');
    assert.ok(value(scraped, 'mom_auth_logins_total') >= 1);
    assert.equal(value(scraped, 'mom_auth_login_refusals_total', { reason: 'invalid_credentials' }), 0);
    const refused = await fetch(`${cluster.authUrl}/auth`, { method: 'POST', body: JSON.stringify({ user: 'admin', pass: 'wrong' }) });
    assert.equal(refused.status, 401);
    assert.equal(value(await scrape(cluster.authUrl), 'mom_auth_login_refusals_total', { reason: 'invalid_credentials' }), 1);
  });

  await t.test('the partitioner: the controller and the health of the cluster', async () => {
    const scraped = await scrape(cluster.partitionerUrls[0]!);
    checkCommon(scraped, 'partitioner', 'partitioner');
    assert.equal(value(scraped, 'mom_controller_active'), 1);
    assert.equal(value(scraped, 'mom_cluster_nodes'), 3);
    assert.equal(value(scraped, 'mom_cluster_partitions'), 4);
    assert.equal(value(scraped, 'mom_cluster_partitions_offline'), 0);
    assert.equal(value(scraped, 'mom_cluster_partitions_under_replicated'), 0);
    assert.equal(samples(scraped, 'mom_partition_leader_changes_total').length, 4);
  });

  await t.test('the nodes: queues where they are led, replication per partition', async () => {
    const scrapes = new Map<string, Scrape>();
    for (const [id, node] of cluster.nodes) {
      const scraped = await scrape(node.url);
      checkCommon(scraped, 'node,replicator', id);
      scrapes.set(id, scraped);
    }
    const all = [...scrapes.values()];
    assert.equal(all.reduce((n, s) => n + value(s, 'mom_partitions_led'), 0), 4, 'each partition led once');
    assert.equal(all.reduce((n, s) => n + value(s, 'mom_partitions_followed'), 0), 8, 'two followers per partition');

    const led = scrapes.get(leader)!;
    assert.equal(value(led, 'mom_messages_published_total', q), 5);
    assert.equal(value(led, 'mom_messages_delivered_total', q), 5);
    assert.equal(value(led, 'mom_messages_acked_total', q), 5);
    assert.equal(value(led, 'mom_messages_ready', q), 0);
    for (const [id, scraped] of scrapes) {
      if (id !== leader) assert.equal(samples(scraped, 'mom_messages_ready', q).length, 0, `${id} does not lead the queue: no gauges there`);
    }
    assert.equal(value(led, 'mom_partition_isr_size', { partition }), 3);
    assert.equal(value(led, 'mom_partition_replicas', { partition }), 3);
    const followers = samples(led, 'mom_partition_follower_lag_entries', { partition }).map((s) => s.labels.follower).sort();
    assert.deepEqual(followers, [...cluster.nodes.keys()].filter((id) => id !== leader).sort());
    // Followers catch up within a fetch: lag 0, and the high watermark reaches the log end.
    await scrapeUntil(
      cluster.nodes.get(leader)!.url,
      (now) =>
        sum(now, 'mom_partition_follower_lag_entries', { partition }) === 0 &&
        sum(now, 'mom_partition_follower_lag_seconds', { partition }) === 0 &&
        value(now, 'mom_partition_high_watermark', { partition }) === value(now, 'mom_partition_log_end_offset', { partition }),
      'followers caught up and everything committed',
    );
    assert.ok(value(led, 'mom_partition_high_watermark', { partition }) >= 8, 'epoch start, declares, 5 publishes, settle');
  });

  await t.test('after the leader is killed: retries at the gateway, a leader change, an under-replicated cluster', async () => {
    const gatewayBefore = await scrape(cluster.gatewayUrl);
    await cluster.nodes.get(leader)!.stop('SIGKILL');
    // The map names the dead leader until its session expires: the gateway retries meanwhile.
    const stats = await api.get(path);
    assert.equal(stats.status, 200, stats.text);
    const newLeader = stats.body.leader as string;
    assert.notEqual(newLeader, leader);

    const gateway = await scrape(cluster.gatewayUrl);
    assert.ok(sum(gateway, 'mom_gateway_retries_total') > sum(gatewayBefore, 'mom_gateway_retries_total'), 'the gateway retried');
    for (const sample of samples(gateway, 'mom_gateway_retries_total')) {
      assert.ok(['not_leader', 'unavailable', 'not_enough_replicas', 'insufficient_storage', 'connect_failed', 'connection_lost'].includes(sample.labels.reason!), sample.labels.reason);
    }

    const partitioner = await scrapeUntil(
      cluster.partitionerUrls[0]!,
      (now) => value(now, 'mom_cluster_nodes') === 2 && value(now, 'mom_cluster_partitions_under_replicated') === 4,
      'the partitioner sees 2 nodes and every partition under-replicated',
    );
    assert.ok(value(partitioner, 'mom_partition_leader_changes_total', { partition }) >= 1);
    assert.equal(value(partitioner, 'mom_cluster_partitions_offline'), 0);

    const node = await scrapeUntil(cluster.nodes.get(newLeader)!.url, (now) => valueOrUndefined(now, 'mom_partition_isr_size', { partition }) === 2, 'the new leader\'s ISR without the dead node');
    assert.equal(value(node, 'mom_partition_replicas', { partition }), 3);
    assert.ok(value(node, 'mom_partition_leader_changes_total', { partition }) >= 1);
    const dead = { partition, follower: leader };
    assert.ok(value(node, 'mom_partition_follower_lag_entries', dead) > 0, 'the dead replica lags');
    assert.ok(value(node, 'mom_partition_follower_lag_seconds', dead) > 0);
  });
});
