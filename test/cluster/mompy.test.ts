/**
 * MOM-py clients against a cluster: `POST /send` on the gateway reaches the leader of the
 * routing key's partition, and rides out a leader failover like the /v1 API does (the
 * gateway retries while the partition has no leader, instead of answering 503 at once).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uniqueName } from '../helpers/http-api';
import { startCluster } from '../helpers/cluster';

test('MOM-py /send through the gateway reaches leaders and survives a leader failover', { timeout: 120_000 }, async (t) => {
  const cluster = await startCluster(t, { nodes: 3, partitions: 4 });
  const token = await cluster.token();
  const exchange = uniqueName('mompy');
  const send = async (operation: 'push' | 'pull', body?: unknown) => {
    const response = await fetch(`${cluster.gatewayUrl}/send`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ operation, type: 'q', data: { headers: { exchange, routing_key: 'jobs', message_date: '2024-05-01' }, ...(body === undefined ? {} : { body }) } }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  const first = await send('push', 'before');
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.body.status, 'Message pushed');

  const leader = await cluster.leaderOf(exchange, 'jobs');
  assert.ok(leader, 'the queue has a leader');
  await cluster.nodes.get(leader)!.stop('SIGKILL');
  const started = Date.now();
  const during = await send('push', 'during-failover');
  assert.equal(during.status, 200, `push during the failover: ${JSON.stringify(during.body)}`);
  t.diagnostic(`MOM-py push answered ${Date.now() - started} ms after the leader was killed`);
  assert.notEqual(await cluster.leaderOf(exchange, 'jobs'), leader, 'served by a new leader');

  const pulled: unknown[] = [];
  for (let i = 0; i < 2; i++) {
    const answer = await send('pull');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    pulled.push((answer.body.message as { body: unknown }).body);
  }
  assert.deepEqual(pulled, ['before', 'during-failover']);
  assert.equal((await send('pull')).status, 404, 'acked on delivery: nothing left');
});
