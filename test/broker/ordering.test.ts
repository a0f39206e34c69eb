/**
 * DESIGN §2 "Order": a queue or a subscription delivers first deliveries in publish order,
 * whatever the publish batching and the pull `max`, and whether or not earlier pulls are acked.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { startBroker, type RunningBroker } from '../helpers/broker';
import { adminApi, uniqueName, type Api, type WireMessage } from '../helpers/http-api';

const SEQUENTIAL = 120;
const BATCHES = [1, 7, 25, 100, 3, 64];
const PULL_SIZES = [1, 2, 5, 13, 50, 1000];

/** Publishes 0..n-1: first one message per request, then batches of varied sizes. */
async function publishInOrder(api: Api, target: string): Promise<number> {
  let seq = 0;
  for (let i = 0; i < SEQUENTIAL; i++) await api.publish(target, [{ payload: { seq: seq++ } }]);
  for (const size of BATCHES) {
    await api.publish(target, Array.from({ length: size }, () => ({ payload: { seq: seq++ } })));
  }
  return seq;
}

/**
 * Pulls everything with a rotating `max`, acking only every other pull right away (the rest at
 * the end), so first deliveries have to follow each other past leased messages.
 */
async function pullAll(api: Api, inbox: string, total: number): Promise<WireMessage[]> {
  const out: WireMessage[] = [];
  const held: string[] = [];
  for (let round = 0; out.length < total && round < total + 10; round++) {
    const max = PULL_SIZES[round % PULL_SIZES.length]!;
    const messages = await api.pull(inbox, { max, lease_ms: 600_000 });
    assert.ok(messages.length <= max, `pull returned ${messages.length} > max ${max}`);
    assert.ok(messages.length > 0, `pull ${round} returned nothing with ${total - out.length} messages left`);
    out.push(...messages);
    if (round % 2 === 0) await api.ack(inbox, messages.map((m) => m.id));
    else held.push(...messages.map((m) => m.id));
  }
  assert.deepEqual(await api.pull(inbox, { max: 10 }), [], 'nothing is left');
  const result = await api.ack(inbox, held);
  assert.equal(result.acked, held.length);
  return out;
}

function assertInOrder(messages: WireMessage[], total: number): void {
  assert.deepEqual(
    messages.map((m) => m.payload.seq),
    Array.from({ length: total }, (_, i) => i),
  );
  for (const message of messages) assert.equal(message.deliveries, 1);
}

async function setup(t: TestContext): Promise<{ broker: RunningBroker; api: Api; exchange: string }> {
  const broker = await startBroker(t);
  const api = await adminApi(broker);
  const exchange = uniqueName('order');
  await api.declareExchange(exchange);
  return { broker, api, exchange };
}

test('a queue delivers in publish order, across batches and pull sizes', async (t) => {
  const { api, exchange } = await setup(t);
  await api.declareQueue(exchange, 'q');
  const queue = `/v1/exchanges/${exchange}/queues/q`;
  const total = await publishInOrder(api, queue);
  assertInOrder(await pullAll(api, queue, total), total);

  // Concurrent producers: each one's messages keep their relative order.
  const producers = 4;
  const perProducer = 60;
  await Promise.all(
    Array.from({ length: producers }, async (_, p) => {
      for (let i = 0; i < perProducer; i += 3) {
        await api.publish(queue, [0, 1, 2].map((k) => ({ payload: { p, i: i + k } })));
      }
    }),
  );
  const mixed = await api.drain(queue, { max: 17 });
  assert.equal(mixed.length, producers * perProducer);
  for (let p = 0; p < producers; p++) {
    assert.deepEqual(
      mixed.filter((m) => m.payload.p === p).map((m) => m.payload.i),
      Array.from({ length: perProducer }, (_, i) => i),
      `producer ${p}'s messages in its order`,
    );
  }
});

test('a subscription delivers in publish order, and so does every other subscription of the topic', async (t) => {
  const { api, exchange } = await setup(t);
  await api.declareTopic(exchange, 't');
  const topic = `/v1/exchanges/${exchange}/topics/t`;
  await api.subscribe(exchange, 't', 's1');
  await api.subscribe(exchange, 't', 's2');
  const total = await publishInOrder(api, topic);
  assertInOrder(await pullAll(api, `${topic}/subscriptions/s1`, total), total);
  // s2 was not touched by s1's pulls and acks: it gets the same sequence, in big pulls.
  const second = await api.drain(`${topic}/subscriptions/s2`, { max: 97 });
  assertInOrder(second, total);
});

test('a consumer that keeps up gets each message once, in order; so does one that fell far behind', async (t) => {
  const { api, exchange } = await setup(t);
  await api.declareQueue(exchange, 'q');
  const queue = `/v1/exchanges/${exchange}/queues/q`;
  assert.deepEqual(await api.pull(queue, { max: 10 }), []);
  // Keeping up: each pull finds what was published since the last one.
  const kept: WireMessage[] = [];
  let seq = 0;
  for (let round = 0; round < 20; round++) {
    await api.publish(queue, Array.from({ length: 1 + (round % 4) }, () => ({ payload: { seq: seq++ } })));
    const messages = await api.pull(queue, { max: 3 + (round % 5), lease_ms: 600_000 });
    kept.push(...messages);
    await api.ack(queue, messages.map((m) => m.id));
  }
  kept.push(...(await api.drain(queue, { max: 50 })));
  assertInOrder(kept, seq);

  // Falling behind by more than a pull holds, with a nack in the middle.
  const behind = 2_500;
  for (let i = 0; i < behind; i += 250) {
    await api.publish(queue, Array.from({ length: 250 }, (_, k) => ({ payload: { seq: i + k } })));
  }
  const first = await api.pull(queue, { max: 10, lease_ms: 600_000 });
  await api.nack(queue, [first[0]!.id], true);
  await api.ack(queue, first.slice(1).map((m) => m.id));
  const rest = await api.drain(queue, { max: 333 });
  assert.equal(rest[0]!.payload.seq, 0, 'the nacked message comes first');
  assert.equal(rest[0]!.deliveries, 2);
  assert.deepEqual(
    first.slice(1).map((m) => m.payload.seq),
    Array.from({ length: 9 }, (_, k) => k + 1),
  );
  assert.deepEqual(
    rest.slice(1).map((m) => m.payload.seq),
    Array.from({ length: behind - 10 }, (_, k) => k + 10),
    'every other message once, in order',
  );
  for (const message of rest.slice(1)) assert.equal(message.deliveries, 1);
});
