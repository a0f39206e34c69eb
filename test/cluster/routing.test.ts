/**
 * Routing in a real cluster (DESIGN §6): a node answers /v1 only for the partitions it leads
 * and sends everything else away with 421 not_leader naming the leader; the gateway finds
 * the leader itself; the partitioner's POST /routing and GET /partitions describe the map.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectError, expectStatus, uniqueName } from '../helpers/http-api';
import { startCluster, type Cluster } from '../helpers/cluster';
import { consumeAll, nameInPartition, queuePath } from '../helpers/workloads';

const NODE_ID = /^node-\d+$/;

function isUrl(value: unknown): boolean {
  return typeof value === 'string' && /^http:\/\/127\.0\.0\.1:\d+$/.test(value);
}

async function postRouting(cluster: Cluster, body: unknown, raw?: string) {
  const response = await fetch(`${cluster.partitionerUrls[0]}/routing`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw ?? JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: any;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed, text, headers: response.headers, ms: 0 };
}

test('routing: 421 from non-leaders, the gateway finds leaders, /routing and /partitions per DESIGN §6', { timeout: 120_000 }, async (t) => {
  const cluster = await startCluster(t, { nodes: 3, partitions: 8 });
  const nodeIds = [...cluster.nodes.keys()];

  await t.test('GET /partitions lists every partition, the controller and the nodes', async () => {
    const response = await fetch(`${cluster.partitionerUrls[0]}/partitions`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /application\/json/);
    const map = (await response.json()) as any;
    assert.deepEqual(Object.keys(map).sort(), ['controller', 'nodes', 'partitions']);

    assert.equal(map.partitions.length, cluster.partitions);
    map.partitions.forEach((p: any, index: number) => {
      assert.deepEqual(Object.keys(p).sort(), ['isr', 'leader', 'leader_epoch', 'node_location', 'partition', 'replicas'], `partition ${index} fields`);
      assert.equal(p.partition, index, 'partitions in order, numbered from 0');
      assert.match(p.leader, NODE_ID);
      assert.ok(isUrl(p.node_location), `node_location is a URL: ${p.node_location}`);
      assert.equal(p.node_location, cluster.nodes.get(p.leader)!.url, 'node_location is the leader\'s registered URL');
      assert.ok(Number.isSafeInteger(p.leader_epoch) && p.leader_epoch >= 1, `leader_epoch ${p.leader_epoch}`);
      assert.equal(p.replicas.length, 3, 'RF 3 on 3 nodes');
      assert.equal(new Set(p.replicas).size, 3, 'replicas on distinct nodes');
      for (const replica of p.replicas) assert.ok(nodeIds.includes(replica), `replica ${replica} is a node`);
      assert.ok(p.replicas.includes(p.leader), 'the leader is a replica');
      assert.ok(p.isr.includes(p.leader), 'the leader is in the ISR');
      for (const member of p.isr) assert.ok(p.replicas.includes(member), 'ISR ⊆ replicas');
    });
    // Placement spreads leadership: every node leads something (8 partitions, 3 nodes).
    assert.deepEqual([...new Set(map.partitions.map((p: any) => p.leader))].sort(), [...nodeIds].sort());

    assert.equal(typeof map.controller, 'object');
    assert.equal(map.controller.id, 'part-1');
    assert.ok(Number.isSafeInteger(map.controller.epoch) && map.controller.epoch >= 1, `controller epoch ${map.controller.epoch}`);

    assert.deepEqual(map.nodes.map((n: any) => n.id), [...nodeIds].sort());
    for (const node of map.nodes) {
      assert.equal(node.http, cluster.nodes.get(node.id)!.url);
      assert.equal(node.grpc, cluster.nodes.get(node.id)!.grpc);
      assert.equal(typeof node.version, 'string');
    }
  });

  await t.test('POST /routing answers the partition of (exchange, routing_key) and its leader', async () => {
    const map = await cluster.partitionMap();
    for (let i = 0; i < 20; i++) {
      const exchange = `ex${i % 3}`;
      const key = uniqueName('key');
      const answer = await postRouting(cluster, { exchange, routing_key: key });
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(Object.keys(answer.body).sort(), ['leader', 'leader_epoch', 'node_location', 'partition', 'replicas']);
      const expected = map.partitions[cluster.partitionOf(exchange, key)]!;
      assert.deepEqual(answer.body, {
        partition: expected.partition,
        leader: expected.leader,
        node_location: expected.node_location,
        replicas: expected.replicas,
        leader_epoch: expected.leader_epoch,
      });
    }
    // The partitioner and the documented hash (src/core/hash.ts) agree.
    const fixed = await postRouting(cluster, { exchange: 'logs', routing_key: 'orders' });
    assert.equal(fixed.body.partition, cluster.partitionOf('logs', 'orders'));

    expectError(await postRouting(cluster, { exchange: 'logs' }), 400, 'bad_request', 'routing_key missing');
    expectError(await postRouting(cluster, { exchange: 'logs', routing_key: 7 }), 400, 'bad_request', 'routing_key not a string');
    expectError(await postRouting(cluster, [1]), 400, 'bad_request', 'an array body');
    expectError(await postRouting(cluster, undefined, '{"exchange":'), 400, 'bad_request', 'broken JSON');
    expectError(await postRouting(cluster, { exchange: 'logs', routing_key: '../etc' }), 400, 'invalid_name', 'a routing key with a slash');
    expectError(await postRouting(cluster, { exchange: '.hidden', routing_key: 'q' }), 400, 'invalid_name', 'an exchange starting with a dot');
  });

  await t.test('a non-leader answers 421 not_leader with the leader; the gateway serves the same request', async () => {
    const gateway = await cluster.api();
    const exchange = uniqueName('routing');
    await gateway.declareExchange(exchange);
    const map = await cluster.partitionMap();
    // One queue in every partition: the gateway must reach each partition's leader.
    for (const info of map.partitions) {
      const queue = nameInPartition(cluster, exchange, info.partition, 'q');
      const path = queuePath(exchange, queue);
      const leader = info.leader!;
      const route = await cluster.route(exchange, queue);
      assert.equal(route.leader, leader, `routing agrees with the map for ${queue}`);

      expectStatus(await gateway.put(path), [201], `declare ${queue} through the gateway`);
      const stats = await gateway.get(path);
      expectStatus(stats, [200], 'stats through the gateway');
      assert.equal(stats.body.leader, leader, 'stats name the leader by node id');
      assert.equal(stats.body.partition, info.partition, 'stats name the partition');

      for (const nodeId of nodeIds.filter((id) => id !== leader)) {
        const direct = await cluster.nodeApi(nodeId);
        const published = await direct.post(`${path}/messages`, { payload: { via: nodeId } });
        expectError(published, 421, 'not_leader', `publish to ${nodeId}, which does not lead p${info.partition}`);
        assert.equal(published.body.error.leader, leader, 'the 421 names the leader');
        assert.equal(published.body.error.node_location, cluster.nodes.get(leader)!.url, 'and where it is');
        assert.equal(published.body.error.partition, info.partition);
        assert.equal(published.body.error.leader_epoch, route.leader_epoch);
        expectError(await direct.get(`${path}/messages?max=1`), 421, 'not_leader', `pull from ${nodeId}`);
        expectError(await direct.get(path), 421, 'not_leader', `stats from ${nodeId}`);
        // Skipping the gateway skips no check: no token, no answer (DESIGN §6).
        const anonymous = await direct.post(`${path}/messages`, { payload: 1 }, { authorization: '' });
        assert.equal(anonymous.status, 401, `a node wants a token before anything: ${anonymous.text}`);
      }

      // The leader itself and the gateway both take the publish.
      const leaderApi = await cluster.nodeApi(leader);
      const viaLeader = await leaderApi.post(`${path}/messages`, { payload: 'direct' });
      expectStatus(viaLeader, [201], `publish to the leader ${leader}`);
      const viaGateway = await gateway.post(`${path}/messages`, { payload: 'gateway' });
      expectStatus(viaGateway, [201], 'publish through the gateway');
      const { messages } = await consumeAll(gateway, path, [...viaLeader.body.ids, ...viaGateway.body.ids], 10_000);
      assert.deepEqual(messages.map((m) => m.payload).sort(), ['direct', 'gateway']);
    }
  });
});
