/**
 * DESIGN §2 topics: every subscription sees every message published after it was created
 * (`from: "earliest"` also the retained older ones, `latest` not); consumers of one
 * subscription compete; a deleted subscription stops receiving and answers 404.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { startBroker } from '../helpers/broker';
import { adminApi, Api, expectError, uniqueName, type WireMessage } from '../helpers/http-api';

function seqs(messages: WireMessage[]): number[] {
  return messages.map((m) => m.payload.seq);
}

async function publishSeqs(api: Api, topic: string, from: number, count: number): Promise<string[]> {
  return api.publish(topic, Array.from({ length: count }, (_, i) => ({ payload: { seq: from + i } })));
}

test('each subscription gets what was published after it; earliest also gets retained ones', async (t) => {
  const broker = await startBroker(t);
  const api = await adminApi(broker);
  const exchange = uniqueName('topics');
  await api.declareExchange(exchange);
  await api.declareTopic(exchange, 't');
  const topic = `/v1/exchanges/${exchange}/topics/t`;
  const sub = (name: string) => `${topic}/subscriptions/${name}`;

  // Published with no subscription at all: stored (201), retained for `earliest`.
  await publishSeqs(api, topic, 0, 3);
  const created = await api.put(sub('latest1'));
  assert.equal(created.status, 201);
  assert.equal(created.body.from, 'latest', 'subscriptions default to from=latest');
  assert.equal((await api.put(sub('latest1'))).status, 200, 'subscribing again is idempotent');
  assert.equal((await api.put(sub('earliest1'), { from: 'earliest' })).status, 201);
  await api.subscribe(exchange, 't', 'latest2', 'latest');

  await publishSeqs(api, topic, 3, 4);
  assert.deepEqual(seqs(await api.drain(sub('latest1'))), [3, 4, 5, 6]);
  assert.deepEqual(seqs(await api.drain(sub('latest2'))), [3, 4, 5, 6]);
  assert.deepEqual(seqs(await api.drain(sub('earliest1'))), [0, 1, 2, 3, 4, 5, 6], 'earliest starts with the retained messages');

  // A later subscription sees only what follows it; the older ones keep getting everything.
  await api.subscribe(exchange, 't', 'late');
  await publishSeqs(api, topic, 7, 2);
  for (const name of ['latest1', 'latest2', 'earliest1', 'late']) {
    assert.deepEqual(seqs(await api.drain(sub(name))), [7, 8], `subscription ${name}`);
  }
  // Acking on one subscription does not settle the message for another.
  const ids = await publishSeqs(api, topic, 9, 1);
  const [first] = await api.pull(sub('latest1'));
  assert.equal(first?.id, ids[0]);
  await api.ack(sub('latest1'), [ids[0]!]);
  const [other] = await api.pull(sub('late'));
  assert.equal(other?.id, ids[0], 'the same message id on every subscription');
  assert.equal(other?.deliveries, 1);

  // An earliest subscription made now gets all ten retained messages (acks elsewhere do not remove them).
  await api.subscribe(exchange, 't', 'earliest2', 'earliest');
  assert.deepEqual(seqs(await api.drain(sub('earliest2'))), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('consumers of one subscription compete: each message goes to exactly one', async (t) => {
  const broker = await startBroker(t);
  const api = await adminApi(broker);
  const exchange = uniqueName('compete');
  await api.declareExchange(exchange);
  await api.declareTopic(exchange, 't');
  await api.subscribe(exchange, 't', 'group');
  await api.subscribe(exchange, 't', 'audit');
  const topic = `/v1/exchanges/${exchange}/topics/t`;
  const group = `${topic}/subscriptions/group`;
  const other = new Api(api.url, api.token);

  // Interleaved pulls without acks: the second consumer never sees the first one's leased messages.
  await publishSeqs(api, topic, 0, 10);
  const a = await api.pull(group, { max: 3, lease_ms: 60_000 });
  const b = await other.pull(group, { max: 3, lease_ms: 60_000 });
  const a2 = await api.pull(group, { max: 10, lease_ms: 60_000 });
  assert.deepEqual(seqs(a), [0, 1, 2]);
  assert.deepEqual(seqs(b), [3, 4, 5]);
  assert.deepEqual(seqs(a2), [6, 7, 8, 9]);
  assert.deepEqual(await other.pull(group, { max: 10 }), []);
  await api.ack(group, [...a, ...a2].map((m) => m.id));
  await other.ack(group, b.map((m) => m.id));

  // Concurrent consumers with long polls: together they get all 200, none twice.
  const total = 200;
  const got: Array<Map<string, number>> = [new Map(), new Map()];
  let received = 0;
  const deadline = Date.now() + 15_000;
  const consumer = async (client: Api, mine: Map<string, number>) => {
    while (received < total && Date.now() < deadline) {
      const messages = await client.pull(group, { max: 7, wait_ms: 200, lease_ms: 60_000 });
      for (const m of messages) mine.set(m.id, m.payload.seq);
      received += messages.length;
      if (messages.length > 0) await client.ack(group, messages.map((m) => m.id));
    }
  };
  const consumers = [consumer(api, got[0]!), consumer(other, got[1]!)];
  for (let i = 10; i < 10 + total; i += 20) await publishSeqs(api, topic, i, 20);
  await Promise.all(consumers);
  const both = [...got[0]!.keys()].filter((id) => got[1]!.has(id));
  assert.deepEqual(both, [], 'no message went to both consumers');
  const all = [...got[0]!.values(), ...got[1]!.values()].sort((x, y) => x - y);
  assert.deepEqual(all, Array.from({ length: total }, (_, i) => 10 + i));
  t.diagnostic(`consumer shares: ${got[0]!.size} / ${got[1]!.size}`);

  // The other subscription got its own copy of everything.
  assert.equal((await api.drain(`${topic}/subscriptions/audit`)).length, 10 + total);
});

test('deleting a subscription stops its deliveries; the topic and other subscriptions go on', async (t) => {
  const broker = await startBroker(t);
  const api = await adminApi(broker);
  const exchange = uniqueName('unsub');
  await api.declareExchange(exchange);
  await api.declareTopic(exchange, 't');
  const topic = `/v1/exchanges/${exchange}/topics/t`;
  const gone = `${topic}/subscriptions/gone`;
  const stays = `${topic}/subscriptions/stays`;
  await api.subscribe(exchange, 't', 'gone');
  await api.subscribe(exchange, 't', 'stays');
  await publishSeqs(api, topic, 0, 3);
  const [leased] = await api.pull(gone, { max: 1, lease_ms: 60_000 });
  assert.ok(leased);

  // A long poll waiting on the subscription when it is deleted answers 404 at once.
  await api.drain(stays);
  const poll = api.get(`${stays}/messages?wait_ms=10000`);
  const deleted = await api.delete(gone);
  assert.equal(deleted.status, 200);
  expectError(await api.get(`${gone}/messages`), 404, 'subscription_not_found', 'pull from a deleted subscription');
  expectError(await api.post(`${gone}/ack`, { ids: [leased.id] }), 404, 'subscription_not_found', 'ack on a deleted subscription');
  expectError(await api.get(gone), 404, 'subscription_not_found', 'stats of a deleted subscription');
  expectError(await api.delete(gone), 404, 'subscription_not_found', 'deleting it twice');

  await publishSeqs(api, topic, 3, 2);
  const polled = await poll;
  assert.equal(polled.status, 200);
  assert.deepEqual(seqs(polled.body.messages), [3], 'the other subscription still receives');
  assert.deepEqual(seqs(await api.drain(stays)), [4]);

  // The same name subscribed again is a new subscription: nothing of the old one's backlog.
  await api.subscribe(exchange, 't', 'gone');
  assert.deepEqual(await api.pull(gone, { max: 10 }), []);
  await publishSeqs(api, topic, 5, 1);
  assert.deepEqual(seqs(await api.drain(gone)), [5]);

  const waiting = api.get(`${gone}/messages?wait_ms=10000`);
  // Give the long poll time to reach the broker and wait there; were it late, it would get the
  // same 404 without waiting, so the delay only makes the waiting path likely, not the result.
  await delay(200);
  const before = Date.now();
  assert.equal((await api.delete(gone)).status, 200);
  const answer = await waiting;
  assert.ok(Date.now() - before < 5_000, 'a long poll on a deleted subscription does not hang');
  expectError(answer, 404, 'subscription_not_found', 'long poll on a subscription deleted meanwhile');
});
