/**
 * DESIGN §2/§8 leases: a pulled message is leased; an expired lease or a nack makes it
 * deliverable again with `deliveries + 1`; `nack` with `requeue:false` dead-letters at once;
 * `max_deliveries=N` dead-letters at the Nth failed delivery; ack/nack of unknown ids lists
 * them in "unknown".
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { startBroker } from '../helpers/broker';
import { waitFor } from '../helpers/wait';
import { adminApi, uniqueName, type Api, type Json } from '../helpers/http-api';

async function setup(t: TestContext): Promise<{ api: Api; exchange: string; queue: (name: string, options?: Record<string, unknown>) => Promise<string> }> {
  const broker = await startBroker(t);
  const api = await adminApi(broker);
  const exchange = uniqueName('lease');
  await api.declareExchange(exchange);
  const queue = async (name: string, options?: Record<string, unknown>) => {
    await api.declareQueue(exchange, name, options);
    return `/v1/exchanges/${exchange}/queues/${name}`;
  };
  return { api, exchange, queue };
}

async function deadLetters(api: Api, inbox: string): Promise<Json[]> {
  const response = await api.get(`${inbox}/dead-letters`);
  assert.equal(response.status, 200, response.text);
  return response.body.dead_letters;
}

async function stats(api: Api, inbox: string): Promise<Json> {
  const response = await api.get(inbox);
  assert.equal(response.status, 200, response.text);
  return response.body;
}

test('an expired lease redelivers with deliveries + 1; a live lease does not', async (t) => {
  const { api, queue } = await setup(t);
  const q = await queue('q');
  const [id] = await api.publish(q, [{ payload: 'lease me' }]);

  const leasedAt = Date.now();
  const [first] = await api.pull(q, { lease_ms: 200 });
  assert.equal(first?.id, id);
  assert.equal(first?.deliveries, 1);
  // While leased nobody else gets it.
  assert.deepEqual(await api.pull(q, { max: 10 }), []);

  // Once the lease is gone the old holder's ack is stale: "unknown", not an error.
  await waitFor('the lease to expire', async () => (await stats(api, q)).in_flight === 0, { timeoutMs: 5_000, retryErrors: true });
  assert.ok(Date.now() - leasedAt >= 200, 'not before lease_ms');
  const [second] = await api.pull(q, { wait_ms: 5_000, lease_ms: 60_000 });
  assert.equal(second?.id, id);
  assert.equal(second?.deliveries, 2);
  assert.deepEqual(second?.payload, 'lease me');

  // A long lease holds: nothing comes back within a while.
  assert.deepEqual(await api.pull(q, { wait_ms: 500 }), []);
  assert.deepEqual(await api.ack(q, [id!]), { acked: 1, unknown: [] });
  assert.deepEqual(await api.pull(q, { wait_ms: 300 }), [], 'acked: never again');
});

test('an ack after the lease expired is "unknown" and the message is delivered again', async (t) => {
  const { api, queue } = await setup(t);
  const q = await queue('q');
  const [id] = await api.publish(q, [{ payload: 1 }]);
  await api.pull(q, { lease_ms: 100 });
  await waitFor('the lease to expire', async () => (await stats(api, q)).in_flight === 0, { timeoutMs: 5_000, retryErrors: true });
  assert.deepEqual(await api.ack(q, [id!]), { acked: 0, unknown: [id] });
  const [again] = await api.pull(q, { wait_ms: 5_000 });
  assert.equal(again?.id, id);
  assert.equal(again?.deliveries, 2);
});

test('nack with requeue redelivers with deliveries + 1; requeue:false dead-letters at once', async (t) => {
  const { api, queue } = await setup(t);
  const q = await queue('q');
  const [id] = await api.publish(q, [{ payload: { n: 1 }, headers: { h: 'v' } }]);
  for (let delivery = 1; delivery <= 3; delivery++) {
    const [message] = await api.pull(q, { lease_ms: 60_000 });
    assert.equal(message?.id, id);
    assert.equal(message?.deliveries, delivery);
    assert.deepEqual(message?.headers, { h: 'v' });
    assert.deepEqual(await api.nack(q, [id!], true), { nacked: 1, unknown: [] });
  }
  const [last] = await api.pull(q, { lease_ms: 60_000 });
  assert.equal(last?.deliveries, 4);
  assert.deepEqual(await api.nack(q, [id!], false), { nacked: 1, unknown: [] });

  assert.deepEqual(await api.pull(q, { wait_ms: 300 }), [], 'a rejected message is not delivered');
  const dead = await deadLetters(api, q);
  assert.equal(dead.length, 1);
  assert.equal(dead[0].id, id);
  assert.deepEqual(dead[0].payload, { n: 1 });
  assert.equal(dead[0].reason, 'rejected');
  assert.deepEqual(await stats(api, q).then((s) => [s.depth, s.in_flight, s.dead_letters]), [0, 0, 1]);
  // A nack body without requeue means requeue:true.
  const [other] = await api.publish(q, [{ payload: 2 }]);
  await api.pull(q);
  assert.equal((await api.post(`${q}/nack`, { ids: [other] })).status, 200);
  assert.equal((await api.pull(q))[0]?.deliveries, 2);
});

test('max_deliveries=2: the second failed delivery dead-letters, by nack or by lease expiry', async (t) => {
  const { api, queue } = await setup(t);
  const byNack = await queue('by-nack', { max_deliveries: 2 });
  const [nacked] = await api.publish(byNack, [{ payload: 'a' }]);
  const [d1] = await api.pull(byNack);
  assert.equal(d1?.deliveries, 1);
  await api.nack(byNack, [nacked!], true);
  const [d2] = await api.pull(byNack);
  assert.equal(d2?.deliveries, 2);
  await api.nack(byNack, [nacked!], true);
  assert.deepEqual(await api.pull(byNack, { wait_ms: 500 }), [], 'no third delivery');
  const dead = await deadLetters(api, byNack);
  assert.deepEqual(dead.map((d: Json) => [d.id, d.reason]), [[nacked, 'max_deliveries']]);
  assert.equal(dead[0].deliveries, 2);

  const byExpiry = await queue('by-expiry', { max_deliveries: 2 });
  const [expiring] = await api.publish(byExpiry, [{ payload: 'b' }]);
  const [e1] = await api.pull(byExpiry, { lease_ms: 150 });
  assert.equal(e1?.deliveries, 1);
  const [e2] = await api.pull(byExpiry, { wait_ms: 5_000, lease_ms: 150 });
  assert.equal(e2?.id, expiring);
  assert.equal(e2?.deliveries, 2);
  await waitFor('the second expiry to dead-letter the message', async () => (await deadLetters(api, byExpiry)).length === 1, { timeoutMs: 5_000, retryErrors: true });
  assert.deepEqual(await api.pull(byExpiry, { wait_ms: 500 }), [], 'no third delivery');
  assert.equal((await deadLetters(api, byExpiry))[0].id, expiring);
  assert.equal((await stats(api, byExpiry)).dead_letters, 1);

  // max_deliveries=1: the first failure is the last.
  const once = await queue('once', { max_deliveries: 1 });
  const [single] = await api.publish(once, [{ payload: 'c' }]);
  await api.pull(once);
  await api.nack(once, [single!], true);
  assert.deepEqual(await api.pull(once, { wait_ms: 300 }), []);
  assert.equal((await deadLetters(api, once)).length, 1);

  // Other messages of the queue are not affected.
  const [fine] = await api.publish(byNack, [{ payload: 'fine' }]);
  assert.equal((await api.pull(byNack))[0]?.id, fine);
});

test('ack and nack of unknown ids list them in "unknown"', async (t) => {
  const { api, queue, exchange } = await setup(t);
  const q = await queue('q');
  const [a, b] = await api.publish(q, [{ payload: 'a' }, { payload: 'b' }]);
  await api.pull(q, { max: 2 });
  assert.deepEqual(await api.ack(q, ['no-such-id', a!]), { acked: 1, unknown: ['no-such-id'] });
  assert.deepEqual(await api.ack(q, [a!]), { acked: 0, unknown: [a] }, 'acking twice');
  assert.deepEqual(await api.nack(q, [a!, 'x', b!], true), { nacked: 1, unknown: [a, 'x'] });
  assert.deepEqual(await api.ack(q, []), { acked: 0, unknown: [] });
  // Published but never pulled: not leased, so unknown too, and still delivered afterwards.
  const [c] = await api.publish(q, [{ payload: 'c' }]);
  assert.deepEqual(await api.ack(q, [c!]), { acked: 0, unknown: [c] });
  const rest = await api.drain(q);
  assert.deepEqual(rest.map((m) => m.id), [b, c]);

  // Subscriptions settle the same way and keep their own dead letters.
  await api.declareTopic(exchange, 't');
  await api.subscribe(exchange, 't', 's');
  const sub = `/v1/exchanges/${exchange}/topics/t/subscriptions/s`;
  const [m] = await api.publish(`/v1/exchanges/${exchange}/topics/t`, [{ payload: 'topic' }]);
  await api.pull(sub);
  assert.deepEqual(await api.nack(sub, [m!, 'ghost'], false), { nacked: 1, unknown: ['ghost'] });
  const dead = await deadLetters(api, sub);
  assert.deepEqual(dead.map((d: Json) => [d.id, d.reason]), [[m, 'rejected']]);
  assert.deepEqual(await api.pull(sub, { wait_ms: 300 }), []);
});
