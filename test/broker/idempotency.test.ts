/**
 * DESIGN §2/§8 idempotent publishing: a producer-chosen `id` repeated on the same queue or topic
 * within the dedup window is stored once and answered with the original id, counted in
 * "duplicates": sequentially, inside one batch, concurrently, and across a restart. The same id
 * on another queue or topic is another message.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startBroker } from '../helpers/broker';
import { adminApi, uniqueName, type Api } from '../helpers/http-api';

async function publishRaw(api: Api, target: string, body: unknown): Promise<{ ids: string[]; duplicates: number }> {
  const response = await api.post(`${target}/messages`, body);
  assert.equal(response.status, 201, response.text);
  return response.body;
}

test('a repeated producer id is stored once and answered with the same id', async (t) => {
  const broker = await startBroker(t);
  const api = await adminApi(broker);
  const exchange = uniqueName('dedup');
  await api.declareExchange(exchange);
  for (const name of ['q1', 'q2', 'q3']) await api.declareQueue(exchange, name);
  const q1 = `/v1/exchanges/${exchange}/queues/q1`;
  const q2 = `/v1/exchanges/${exchange}/queues/q2`;
  const q3 = `/v1/exchanges/${exchange}/queues/q3`;

  // Sequential retries: the first payload wins.
  assert.deepEqual(await publishRaw(api, q1, { payload: 'first', id: 'order-1' }), { ids: ['order-1'], duplicates: 0 });
  assert.deepEqual(await publishRaw(api, q1, { payload: 'retry', id: 'order-1' }), { ids: ['order-1'], duplicates: 1 });
  assert.deepEqual(await publishRaw(api, q1, { messages: [{ payload: 'again', id: 'order-1' }] }), { ids: ['order-1'], duplicates: 1 });

  // Within one batch, and mixed with new ones and id-less ones.
  const batch = await publishRaw(api, q1, {
    messages: [{ payload: 'b1', id: 'order-2' }, { payload: 'b2', id: 'order-2' }, { payload: 'no id' }, { payload: 'dup of 1', id: 'order-1' }, { payload: 'b3', id: 'order-3' }],
  });
  assert.equal(batch.duplicates, 2);
  assert.equal(batch.ids.length, 5);
  assert.deepEqual([batch.ids[0], batch.ids[1], batch.ids[3], batch.ids[4]], ['order-2', 'order-2', 'order-1', 'order-3']);
  assert.ok(!['order-1', 'order-2', 'order-3'].includes(batch.ids[2]!), 'a message without id gets a broker id');

  // The same id on another queue is another message.
  assert.deepEqual(await publishRaw(api, q2, { payload: 'elsewhere', id: 'order-1' }), { ids: ['order-1'], duplicates: 0 });

  const stored = await api.drain(q1);
  assert.deepEqual(stored.map((m) => [m.id, m.payload]), [
    ['order-1', 'first'],
    ['order-2', 'b1'],
    [batch.ids[2], 'no id'],
    ['order-3', 'b3'],
  ]);
  assert.deepEqual((await api.drain(q2)).map((m) => [m.id, m.payload]), [['order-1', 'elsewhere']]);

  // Consumed and acked: a late retry within the window still stores nothing.
  assert.deepEqual(await publishRaw(api, q1, { payload: 'late retry', id: 'order-1' }), { ids: ['order-1'], duplicates: 1 });
  assert.deepEqual(await api.pull(q1, { max: 10 }), []);

  // Concurrent publishes of one id: one stored, every answer names it.
  const concurrent = await Promise.all(
    Array.from({ length: 12 }, (_, i) => publishRaw(api, q3, i % 2 === 0 ? { payload: i, id: 'race' } : { messages: [{ payload: i, id: 'race' }] })),
  );
  for (const answer of concurrent) assert.deepEqual(answer.ids, ['race']);
  assert.equal(concurrent.reduce((sum, a) => sum + a.duplicates, 0), 11, 'all but one counted as duplicates');
  const raced = await api.drain(q3);
  assert.equal(raced.length, 1);
  assert.equal(raced[0]!.id, 'race');

  // Concurrent batches that overlap: every id stored once.
  const overlapping = await Promise.all(
    [0, 1, 2, 3].map((k) => publishRaw(api, q3, { messages: Array.from({ length: 20 }, (_, i) => ({ payload: k * 100 + i, id: `o-${(k * 10 + i) % 40}` })) })),
  );
  assert.equal(overlapping.reduce((sum, a) => sum + a.duplicates, 0), 80 - 40);
  const overlapStored = await api.drain(q3);
  assert.deepEqual(overlapStored.map((m) => m.id).sort(), Array.from({ length: 40 }, (_, i) => `o-${i}`).sort());
});

test('topics deduplicate per topic; a subscription gets one copy', async (t) => {
  const broker = await startBroker(t);
  const api = await adminApi(broker);
  const exchange = uniqueName('dedup-topic');
  await api.declareExchange(exchange);
  await api.declareTopic(exchange, 't1');
  await api.declareTopic(exchange, 't2');
  await api.declareQueue(exchange, 't1');
  await api.subscribe(exchange, 't1', 's');
  await api.subscribe(exchange, 't2', 's');
  const t1 = `/v1/exchanges/${exchange}/topics/t1`;
  const t2 = `/v1/exchanges/${exchange}/topics/t2`;
  // A queue named like the topic is another target.
  const queue = `/v1/exchanges/${exchange}/queues/t1`;

  assert.deepEqual(await publishRaw(api, t1, { payload: 1, id: 'evt' }), { ids: ['evt'], duplicates: 0 });
  assert.deepEqual(await publishRaw(api, t1, { messages: [{ payload: 2, id: 'evt' }, { payload: 3, id: 'evt' }] }), { ids: ['evt', 'evt'], duplicates: 2 });
  assert.deepEqual(await publishRaw(api, t2, { payload: 4, id: 'evt' }), { ids: ['evt'], duplicates: 0 });
  assert.deepEqual(await publishRaw(api, queue, { payload: 5, id: 'evt' }), { ids: ['evt'], duplicates: 0 });

  assert.deepEqual((await api.drain(`${t1}/subscriptions/s`)).map((m) => m.payload), [1]);
  assert.deepEqual((await api.drain(`${t2}/subscriptions/s`)).map((m) => m.payload), [4]);
  assert.deepEqual((await api.drain(queue)).map((m) => m.payload), [5]);
});

test('producer ids are remembered across a restart', async (t) => {
  const broker = await startBroker(t);
  const api = await adminApi(broker);
  const exchange = uniqueName('dedup-restart');
  await api.declareExchange(exchange);
  await api.declareQueue(exchange, 'q');
  const q = `/v1/exchanges/${exchange}/queues/q`;
  await publishRaw(api, q, { payload: 'before', id: 'kept' });

  const restarted = await broker.restart();
  const after = await adminApi(restarted);
  assert.deepEqual(await publishRaw(after, q, { payload: 'after', id: 'kept' }), { ids: ['kept'], duplicates: 1 });
  assert.deepEqual((await after.drain(q)).map((m) => m.payload), ['before']);
});
