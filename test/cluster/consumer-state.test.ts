/**
 * Consumer state is replicated like messages are (DESIGN §3: acks, nacks, subscriptions are
 * log entries): after the leader is SIGKILLed, acked messages never come back, a dead letter
 * stays a dead letter, a nack's delivery count is remembered, a subscription still exists
 * (and a deleted one is still gone) and gets new messages. Leases are leader-local soft
 * state: what was leased but not acked is delivered again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectError, expectStatus, uniqueName, type WireMessage } from '../helpers/http-api';
import { startCluster } from '../helpers/cluster';
import { consumeAll, nameInPartition, queuePath } from '../helpers/workloads';

test('consumer state: acks, nacks, dead letters and subscriptions survive a leader failover', { timeout: 180_000 }, async (t) => {
  const cluster = await startCluster(t, { nodes: 3, partitions: 4 });
  const api = await cluster.api();
  const exchange = uniqueName('state');
  await api.declareExchange(exchange);
  // Everything in one partition, so that one kill moves all of it.
  const partition = 2;
  const queue = nameInPartition(cluster, exchange, partition, 'work');
  const limited = nameInPartition(cluster, exchange, partition, 'limited');
  const topic = nameInPartition(cluster, exchange, partition, 'events');
  const q = queuePath(exchange, queue);
  const q2 = queuePath(exchange, limited);
  const topicPath = `/v1/exchanges/${exchange}/topics/${topic}`;
  const sub = `${topicPath}/subscriptions/keeper`;
  const gone = `${topicPath}/subscriptions/dropped`;

  // Queue: 10 messages, 5 acked, 1 dead-lettered, 1 nacked back and leased again, 3 leased.
  await api.declareQueue(exchange, queue);
  const ids = await api.publish(q, Array.from({ length: 10 }, (_, i) => ({ payload: i })));
  const pulled = await api.pull(q, { max: 10, lease_ms: 120_000 });
  assert.deepEqual(pulled.map((m) => m.id), ids, 'all ten, in order');
  assert.equal((await api.ack(q, ids.slice(0, 5))).acked, 5);
  assert.equal((await api.nack(q, [ids[5]!], false)).nacked, 1);
  assert.equal((await api.nack(q, [ids[6]!], true)).nacked, 1);
  const again = await api.pull(q, { max: 1, lease_ms: 120_000 });
  assert.deepEqual(again.map((m) => [m.id, m.deliveries]), [[ids[6], 2]], 'the nacked one comes back first, second delivery');

  // A queue with max_deliveries 2: one failed delivery before the failover.
  await api.declareQueue(exchange, limited, { max_deliveries: 2 });
  const [limitedId] = await api.publish(q2, [{ payload: 'fragile' }]);
  const first = await api.pull(q2, { max: 1 });
  assert.equal(first[0]?.id, limitedId);
  await api.nack(q2, [limitedId!], true);

  // Topic: two subscriptions, one deleted; three events, one acked.
  await api.declareTopic(exchange, topic);
  await api.subscribe(exchange, topic, 'keeper', 'latest');
  await api.subscribe(exchange, topic, 'dropped', 'latest');
  expectStatus(await api.delete(gone), [200], 'unsubscribe dropped');
  const events = await api.publish(topicPath, [{ payload: 'e0' }, { payload: 'e1' }, { payload: 'e2' }]);
  const delivered = await api.pull(sub, { max: 3, lease_ms: 120_000 });
  assert.deepEqual(delivered.map((m) => m.id), events);
  await api.ack(sub, [events[0]!]);

  const before = await cluster.partitionInfo(partition);
  const leader = before.leader!;
  await cluster.nodes.get(leader)!.stop('SIGKILL');
  const after = await cluster.waitPartition(partition, (p) => p.leader !== null && p.leader !== leader, `a new leader instead of ${leader}`);
  assert.ok(before.isr.includes(after.leader!));

  await t.test('acked messages never come back; leased ones are delivered again; the nack count stays', async () => {
    const expected = ids.slice(6);
    const { messages } = await consumeAll(api, q, expected, 30_000);
    assert.deepEqual(
      [...new Set(messages.map((m) => m.id))].sort(),
      [...expected].sort(),
      'exactly the messages that were neither acked nor dead-lettered',
    );
    const byId = new Map<string, WireMessage>(messages.map((m) => [m.id, m]));
    assert.ok(byId.get(ids[6]!)!.deliveries >= 2, `the nacked message remembers its failed delivery: ${byId.get(ids[6]!)!.deliveries}`);
    for (const id of ids.slice(7)) assert.equal(byId.get(id)!.deliveries, 1, 'a lease is not a failed delivery');
  });

  await t.test('the dead letter is still a dead letter', async () => {
    const response = await api.get(`${q}/dead-letters`);
    expectStatus(response, [200], 'dead letters');
    assert.deepEqual(response.body.dead_letters.map((d: { id: string }) => d.id), [ids[5]]);
    assert.equal(response.body.dead_letters[0].payload, 5);
    const stats = await api.get(q);
    expectStatus(stats, [200], 'stats');
    assert.equal(stats.body.dead_letters, 1);
    assert.equal(stats.body.leader, after.leader, 'stats name the new leader');
  });

  await t.test('a delivery count reaches max_deliveries across the failover', async () => {
    const redelivered = await api.pull(q2, { max: 1, wait_ms: 2_000 });
    assert.deepEqual(redelivered.map((m) => [m.id, m.deliveries]), [[limitedId, 2]]);
    await api.nack(q2, [limitedId!], true);
    const letters = await api.get(`${q2}/dead-letters`);
    assert.deepEqual(letters.body.dead_letters.map((d: { id: string }) => d.id), [limitedId], 'the second failed delivery of two dead-letters it');
    assert.deepEqual(await api.pull(q2, { max: 1 }), []);
  });

  await t.test('the subscription still exists and gets new messages; the deleted one stays deleted', async () => {
    expectStatus(await api.get(sub), [200], 'subscription stats after the failover');
    expectError(await api.get(gone), 404, 'subscription_not_found', 'the deleted subscription');
    const [fresh] = await api.publish(topicPath, [{ payload: 'after the failover' }]);
    const { messages } = await consumeAll(api, sub, [events[1]!, events[2]!, fresh!], 20_000);
    assert.deepEqual([...new Set(messages.map((m) => m.id))].sort(), [events[1], events[2], fresh].sort(), 'e1 and e2 again (leased, not acked), and the new one; never e0');
  });
});
