/**
 * DESIGN §8 MOM-py compatibility: the gateway's `POST /send` and the node's `POST /` (one port
 * in --role all) take MOM-py's `{"operation","type","data":{"headers","body"}}` and answer in
 * its shapes; pulls there are acked on delivery; a topic subscription belongs to the user of
 * the token, never to a user named in the body.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startBroker } from '../helpers/broker';
import { adminApi, addUser, Api, expectError, uniqueName, type ApiResponse } from '../helpers/http-api';

type Entry = '/send' | '/';

function request(operation: 'push' | 'pull' | 'subscribe', type: 'q' | 't', exchange: string, routingKey: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { body, ...rest } = extra;
  const data: Record<string, unknown> = { headers: { exchange, routing_key: routingKey, message_date: MESSAGE_DATE } };
  if (operation === 'push') data.body = body;
  return { operation, type, data, ...rest };
}

const MESSAGE_DATE = '2024-05-17 10:11:12.131415';

function send(api: Api, entry: Entry, body: unknown): Promise<ApiResponse> {
  return api.post(entry, body);
}

test('push and pull on a queue through /send and /, acked on delivery, 404 when empty', async (t) => {
  const broker = await startBroker(t);
  const admin = await adminApi(broker);
  const ex = uniqueName('mompy');
  const key = 'orders';

  // An admin's push creates the exchange and queue, as MOM-py did.
  const pushed: string[] = [];
  const bodies: unknown[] = [{ n: 1, text: 'first' }, 'a string', 42, null, [1, 'two', { three: 3 }], { nested: { deep: true } }];
  for (const [i, body] of bodies.entries()) {
    const entry: Entry = i % 2 === 0 ? '/send' : '/';
    const answer = await send(admin, entry, request('push', 'q', ex, key, { body }));
    assert.equal(answer.status, 200, `push via ${entry}: ${answer.text}`);
    assert.equal(answer.body.status, 'Message pushed');
    assert.equal(answer.body.exchange, ex);
    assert.equal(answer.body.routing_key, key);
    assert.equal(typeof answer.body.id, 'string');
    pushed.push(answer.body.id);
  }

  for (const [i, body] of bodies.entries()) {
    const entry: Entry = i % 2 === 0 ? '/' : '/send';
    const answer = await send(admin, entry, request('pull', 'q', ex, key));
    assert.equal(answer.status, 200, `pull ${i} via ${entry}: ${answer.text}`);
    assert.equal(answer.body.status, 'Message delivered');
    assert.deepEqual(answer.body.message.body, body, `message ${i} body, in push order`);
    assert.deepEqual(answer.body.message.headers, { exchange: ex, routing_key: key, message_date: MESSAGE_DATE });
    assert.equal(answer.body.message.id, pushed[i]);
  }
  for (const entry of ['/send', '/'] as const) {
    const empty = await send(admin, entry, request('pull', 'q', ex, key));
    assert.equal(empty.status, 404, `an empty queue via ${entry}`);
    assert.equal(empty.body.status, 'No messages');
  }

  // Acked on delivery: nothing leased, nothing to redeliver, ever.
  const queue = `/v1/exchanges/${ex}/queues/${key}`;
  const stats = await admin.get(queue);
  assert.equal(stats.status, 200);
  assert.equal(stats.body.depth, 0);
  assert.equal(stats.body.in_flight, 0);
  assert.deepEqual(await admin.pull(queue, { wait_ms: 300 }), []);

  // The two protocols share the queue: MOM-py push → /v1 pull, /v1 publish → MOM-py pull.
  await send(admin, '/send', request('push', 'q', ex, key, { body: { via: 'mompy' } }));
  const [viaV1] = await admin.pull(queue);
  assert.deepEqual(viaV1?.payload, { via: 'mompy' });
  assert.deepEqual(viaV1?.headers, { exchange: ex, routing_key: key, message_date: MESSAGE_DATE });
  await admin.ack(queue, [viaV1!.id]);
  await admin.publish(queue, [{ payload: { via: 'v1' }, headers: { h: 'x' } }]);
  const mompyPull = await send(admin, '/send', request('pull', 'q', ex, key));
  assert.equal(mompyPull.status, 200);
  assert.deepEqual(mompyPull.body.message.body, { via: 'v1' });
  assert.deepEqual(mompyPull.body.message.headers, { h: 'x' });

  // A user who may publish but not configure cannot create queues by pushing.
  const pusher = await addUser(broker, 'pusher', 'pusher-password', [{ exchange: ex, allow: ['publish', 'consume'] }]);
  expectError(await send(pusher, '/send', request('push', 'q', ex, 'not-there', { body: 1 })), 404, 'queue_not_found', 'push to a missing queue');
  assert.equal((await send(pusher, '/send', request('push', 'q', ex, key, { body: 'ok' }))).status, 200);
  const reader = await addUser(broker, 'reader', 'reader-password', [{ exchange: ex, allow: ['consume'] }]);
  expectError(await send(reader, '/send', request('push', 'q', ex, key, { body: 1 })), 403, 'forbidden', 'push without publish');
  const read = await send(reader, '/', request('pull', 'q', ex, key));
  assert.equal(read.body.status, 'Message delivered');
  assert.equal(read.body.message.body, 'ok');

  // MOM-py's login body works too.
  const login = await fetch(`${broker.url}/auth`, { method: 'POST', body: JSON.stringify({ username: 'reader', password: 'reader-password' }) });
  assert.equal(login.status, 200);
  assert.equal(typeof ((await login.json()) as { token: string }).token, 'string');
});

test('topics: subscribe, push, pull per subscribing user; identity from the token only', async (t) => {
  const broker = await startBroker(t);
  const admin = await adminApi(broker);
  const ex = uniqueName('mompy-t');
  const topic = 'news';
  const grants = [{ exchange: ex, allow: ['publish', 'consume'] as Array<'publish' | 'consume'> }];
  await admin.declareExchange(ex);
  await admin.declareTopic(ex, topic);
  const alice = await addUser(broker, 'alice', 'alice-password', grants);
  const bob = await addUser(broker, 'bob', 'bob-password', grants);
  const carol = await addUser(broker, 'carol', 'carol-password', grants);
  const subscriptions = `/v1/exchanges/${ex}/topics/${topic}/subscriptions`;

  // Alice subscribes, naming bob in the body: the subscription is alice's.
  const subscribed = await send(alice, '/send', { ...request('subscribe', 't', ex, topic), user: 'bob', username: 'bob' });
  assert.equal(subscribed.status, 200, subscribed.text);
  assert.equal(subscribed.body.status, 'Subscribed');
  assert.equal(subscribed.body.subscription, 'alice');
  const again = await send(alice, '/', request('subscribe', 't', ex, topic));
  assert.equal(again.status, 200);
  assert.equal(again.body.status, 'Already subscribed');
  assert.equal((await admin.get(`${subscriptions}/alice`)).status, 200);
  expectError(await admin.get(`${subscriptions}/bob`), 404, 'subscription_not_found', 'no subscription for the user named in the body');

  // Pushed after alice subscribed: alice gets it once; bob and carol have no subscription.
  const first = await send(carol, '/send', request('push', 't', ex, topic, { body: { headline: 'one' } }));
  assert.equal(first.status, 200);
  assert.equal(first.body.status, 'Message pushed');
  // Bob asks as if he were alice: he gets nothing of alice's.
  const impostor = await send(bob, '/send', { ...request('pull', 't', ex, topic), user: 'alice' });
  assert.equal(impostor.status, 404, `bob's pull is bob's, whatever the body says: ${impostor.text}`);
  assert.ok(!impostor.text.includes('headline'));
  const delivered = await send(alice, '/send', request('pull', 't', ex, topic));
  assert.equal(delivered.status, 200, delivered.text);
  assert.equal(delivered.body.status, 'Message delivered');
  assert.deepEqual(delivered.body.message.body, { headline: 'one' });
  assert.deepEqual(delivered.body.message.headers, { exchange: ex, routing_key: topic, message_date: MESSAGE_DATE });
  const drained = await send(alice, '/send', request('pull', 't', ex, topic));
  assert.equal(drained.status, 404, 'acked on delivery: not delivered twice');

  // Bob subscribes now: he gets what follows, not what came before; alice gets it too.
  assert.equal((await send(bob, '/', request('subscribe', 't', ex, topic))).body.subscription, 'bob');
  await send(carol, '/', request('push', 't', ex, topic, { body: { headline: 'two' } }));
  for (const [name, user] of [['alice', alice], ['bob', bob]] as const) {
    const answer = await send(user, name === 'alice' ? '/' : '/send', request('pull', 't', ex, topic));
    assert.equal(answer.status, 200, `${name}: ${answer.text}`);
    assert.deepEqual(answer.body.message.body, { headline: 'two' }, `${name} gets the second headline`);
    assert.equal((await send(user, '/send', request('pull', 't', ex, topic))).status, 404, `${name} has nothing more`);
  }
  // Carol never subscribed.
  assert.equal((await send(carol, '/send', request('pull', 't', ex, topic))).status, 404);

  // A subscription made through MOM-py is an ordinary subscription for /v1 consumers too.
  await send(carol, '/send', request('push', 't', ex, topic, { body: 'three' }));
  const [viaV1] = await alice.pull(`${subscriptions}/alice`);
  assert.equal(viaV1?.payload, 'three');
});
