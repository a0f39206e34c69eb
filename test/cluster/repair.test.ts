/**
 * Listing and repair in a 3-node cluster (DESIGN §8): the gateway's lists cover every
 * partition, whichever node leads it (and a node asked directly asks the other leaders);
 * purge, redrive and dead-letter deletion are log entries, so after the leader is SIGKILLed
 * the new leader has them: purged messages stay gone (the ones leased at the purge come
 * back, leases being the old leader's memory), redriven ones are deliverable with their
 * deliveries counted from 1, deleted dead letters stay deleted. A wrong method is 405 at the
 * gateway too.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '../helpers/wait';
import { expectError, expectStatus, uniqueName, type Api } from '../helpers/http-api';
import { startCluster } from '../helpers/cluster';
import { consumeAll, nameInPartition, queuePath } from '../helpers/workloads';

async function counts(api: Api, path: string): Promise<{ depth: number; in_flight: number; dead_letters: number; leader: string }> {
  const response = await api.get(path);
  expectStatus(response, [200], `stats of ${path}`);
  return { depth: response.body.depth, in_flight: response.body.in_flight, dead_letters: response.body.dead_letters, leader: response.body.leader };
}

test('listing and repair in a 3-node cluster, across a leader failover', { timeout: 240_000 }, async (t) => {
  const cluster = await startCluster(t, { nodes: 3, partitions: 6 });
  const api = await cluster.api();
  const exchange = uniqueName('repair');
  await api.declareExchange(exchange);
  const map = await cluster.waitHealthy();
  assert.ok(new Set(map.partitions.map((p) => p.leader)).size > 1, 'partitions are led by several nodes');

  await t.test('the lists cover every partition with its leader, through the gateway and through any node', async () => {
    const queues = map.partitions.map((p) => nameInPartition(cluster, exchange, p.partition, `list-${p.partition}`));
    for (const queue of queues) await api.declareQueue(exchange, queue);
    const topic = nameInPartition(cluster, exchange, 5, 'news');
    await api.declareTopic(exchange, topic);
    await api.subscribe(exchange, topic, 'web');
    await api.publish(`/v1/exchanges/${exchange}/topics/${topic}`, [{ payload: 1 }]);
    await api.publish(queuePath(exchange, queues[3]!), [{ payload: 'x' }, { payload: 'y' }]);

    const expected = queues
      .map((name) => {
        const partition = cluster.partitionOf(exchange, name);
        return { name, depth: name === queues[3] ? 2 : 0, in_flight: 0, dead_letters: 0, partition, leader: map.partitions[partition]!.leader };
      })
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    const viaGateway = await api.get(`/v1/exchanges/${exchange}/queues`);
    expectStatus(viaGateway, [200], 'queues through the gateway');
    assert.deepEqual(viaGateway.body.queues, expected);
    for (const node of cluster.nodes.keys()) {
      const direct = await (await cluster.nodeApi(node)).get(`/v1/exchanges/${exchange}/queues`);
      expectStatus(direct, [200], `queues asked of ${node}`);
      assert.deepEqual(direct.body.queues, expected, `${node} asks the other leaders`);
    }
    const topics = await api.get(`/v1/exchanges/${exchange}/topics`);
    expectStatus(topics, [200], 'topics through the gateway');
    assert.deepEqual(topics.body.topics, [
      {
        name: topic,
        retention_ms: 7 * 24 * 3600 * 1000,
        partition: 5,
        leader: map.partitions[5]!.leader,
        subscriptions: [{ name: 'web', depth: 1, in_flight: 0, dead_letters: 0 }],
      },
    ]);

    // A node asked for a partition it does not lead says who does.
    const [notLed] = map.partitions.filter((p) => p.leader !== 'node-1');
    expectError(await (await cluster.nodeApi('node-1')).get(`/v1/exchanges/${exchange}/queues?partitions=${notLed!.partition}`), 421, 'not_leader', 'a partition led elsewhere');
  });

  await t.test('the gateway serves its copy of the map at GET /partitions, without a token', async () => {
    const fromPartitioner = await cluster.partitionMap();
    const fromGateway = await fetch(`${cluster.gatewayUrl}/partitions`);
    assert.equal(fromGateway.status, 200);
    const body = (await fromGateway.json()) as typeof fromPartitioner;
    assert.deepEqual(body.partitions, fromPartitioner.partitions);
    assert.deepEqual(body.nodes.map((node) => node.id), ['node-1', 'node-2', 'node-3']);
    assert.equal(body.controller, null, 'only a partitioner knows the controller');
  });

  await t.test('the gateway answers a wrong method with 405 and Allow', async () => {
    const path = queuePath(exchange, 'anything');
    const answer = await api.call('POST', path, {});
    expectError(answer, 405, 'method_not_allowed', 'POST on a queue at the gateway');
    assert.equal(answer.headers.get('allow'), 'DELETE, GET, PUT');
    const purge = await api.get(`${path}/purge`);
    expectError(purge, 405, 'method_not_allowed', 'GET on purge at the gateway');
    assert.equal(purge.headers.get('allow'), 'POST');
  });

  await t.test('purge, redrive and deletion survive a failover of the leader', async () => {
    const partition = 2;
    const purged = queuePath(exchange, nameInPartition(cluster, exchange, partition, 'purged'));
    const dead = queuePath(exchange, nameInPartition(cluster, exchange, partition, 'dead'));
    for (const path of [purged, dead]) expectStatus(await api.put(path, { max_deliveries: 1 }), [201], `declare ${path}`);

    // purged: 6 messages, 2 leased at the purge (they stay), 4 purged.
    const ids = await api.publish(purged, Array.from({ length: 6 }, (_, i) => ({ payload: i })));
    const leased = await api.pull(purged, { max: 2, lease_ms: 120_000 });
    assert.deepEqual(leased.map((m) => m.id), ids.slice(0, 2));
    assert.deepEqual((await api.post(`${purged}/purge`)).body, { purged: 4 });

    // dead: 4 dead letters; one redriven, one deleted, two left.
    const letters = await api.publish(dead, Array.from({ length: 4 }, (_, i) => ({ payload: `d${i}` })));
    await api.pull(dead, { max: 4 });
    await api.nack(dead, letters, false);
    assert.deepEqual((await api.post(`${dead}/dead-letters/redrive`, { ids: [letters[0]] })).body, { redriven: 1 });
    assert.deepEqual((await api.call('DELETE', `${dead}/dead-letters`, { ids: [letters[1]] })).body, { deleted: 1 });
    assert.deepEqual(await counts(api, dead).then(({ leader: _, ...rest }) => rest), { depth: 1, in_flight: 0, dead_letters: 2 });

    const before = await cluster.partitionInfo(partition);
    const leader = before.leader!;
    await cluster.nodes.get(leader)!.stop('SIGKILL');
    const after = await cluster.waitPartition(partition, (p) => p.leader !== null && p.leader !== leader, `a new leader instead of ${leader}`);
    assert.ok(before.isr.includes(after.leader!));
    await waitFor('the new leader to answer', async () => (await counts(api, purged)).leader === after.leader, { timeoutMs: 30_000, intervalMs: 100, retryErrors: true });

    // The purge holds: only the two leased at the purge come back (a lease is not a failed delivery).
    assert.deepEqual(await counts(api, purged), { depth: 2, in_flight: 0, dead_letters: 0, leader: after.leader! });
    const { messages } = await consumeAll(api, purged, ids.slice(0, 2), 20_000);
    assert.deepEqual(
      messages.map((m) => [m.id, m.deliveries]),
      ids.slice(0, 2).map((id) => [id, 1]),
    );
    // The redrive holds with its reset count, the deletion too.
    const [redriven] = await api.pull(dead, { max: 10 });
    assert.deepEqual([redriven?.id, redriven?.deliveries], [letters[0], 1]);
    const remaining = await api.get(`${dead}/dead-letters`);
    assert.deepEqual(remaining.body.dead_letters.map((d: { id: string }) => d.id), letters.slice(2));

    // Repairs work on the new leader, and its followers get them.
    assert.deepEqual((await api.post(`${dead}/dead-letters/redrive`)).body, { redriven: 2 });
    assert.deepEqual((await api.post(`${dead}/purge`)).body, { purged: 2 });
    await cluster.nodes.get(leader)!.restart();
    await cluster.waitHealthy();
  });
});
