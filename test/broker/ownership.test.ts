/**
 * DESIGN §7 ownership (issue 11 §3: subscriptions and leases belonged to no one): a lease is
 * the consumer's that took it, and another user's ack or nack of it is `unknown` and changes
 * nothing; deleting a subscription needs `configure`; a subscription named after a user (MOM-py's
 * per-user subscription) is that user's: others may not create, read, settle or delete it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startBroker } from '../helpers/broker';
import { adminApi, addUser, expectError, expectStatus, uniqueName } from '../helpers/http-api';

describe('ownership', () => {
  it('a lease is its consumer\'s: another user\'s ack or nack is unknown and changes nothing', async (t) => {
    const broker = await startBroker(t);
    const admin = await adminApi(broker);
    const ex = uniqueName('lease');
    await admin.declareExchange(ex);
    await admin.declareQueue(ex, 'q', { max_deliveries: 1 });
    await admin.declareTopic(ex, 't');
    await admin.subscribe(ex, 't', 'shared');
    const alice = await addUser(broker, 'alice', 'alice-password', [{ exchange: ex, allow: ['consume', 'publish'] }]);
    const bob = await addUser(broker, 'bob', 'bob-password-1', [{ exchange: ex, allow: ['consume', 'publish'] }]);

    for (const inbox of [`/v1/exchanges/${ex}/queues/q`, `/v1/exchanges/${ex}/topics/t/subscriptions/shared`]) {
      const target = inbox.includes('/queues/') ? inbox : `/v1/exchanges/${ex}/topics/t`;
      const [id] = await alice.publish(target, [{ payload: 'leased to alice' }]);
      const [taken] = await alice.pull(inbox, { lease_ms: 60_000 });
      assert.equal(taken?.id, id);

      // Bob (and even an admin) cannot settle what alice holds: unknown, and nothing changes.
      assert.deepEqual(await bob.ack(inbox, [id!]), { acked: 0, unknown: [id] }, `${inbox}: bob's ack`);
      assert.deepEqual(await bob.nack(inbox, [id!], true), { nacked: 0, unknown: [id] }, `${inbox}: bob's nack`);
      assert.deepEqual(await bob.nack(inbox, [id!], false), { nacked: 0, unknown: [id] }, `${inbox}: bob's reject`);
      assert.deepEqual(await admin.ack(inbox, [id!]), { acked: 0, unknown: [id] }, `${inbox}: the admin's ack`);
      assert.deepEqual(await bob.pull(inbox), [], `${inbox}: still leased to alice, not redelivered`);
      const stats = await admin.get(inbox);
      assert.equal(stats.body.in_flight, 1, `${inbox}: still in flight`);
      assert.equal(stats.body.dead_letters, 0, `${inbox}: nothing dead-lettered`);

      // Alice's own ack works, once.
      assert.deepEqual(await alice.ack(inbox, [id!]), { acked: 1, unknown: [] });
      assert.deepEqual(await alice.ack(inbox, [id!]), { acked: 0, unknown: [id] });
    }

    // A nack by its owner works as before: the message comes back, to anyone.
    const q = `/v1/exchanges/${ex}/queues/q`;
    await admin.declareQueue(ex, 'again');
    const again = `/v1/exchanges/${ex}/queues/again`;
    const [id] = await alice.publish(again, [{ payload: 'nacked' }]);
    await alice.pull(again);
    assert.deepEqual(await alice.nack(again, [id!], true), { nacked: 1, unknown: [] });
    const [redelivered] = await bob.pull(again);
    assert.equal(redelivered?.id, id);
    assert.equal(redelivered?.deliveries, 2);
    assert.deepEqual(await bob.ack(again, [id!]), { acked: 1, unknown: [] });
    assert.deepEqual(await admin.drain(q), []);
  });

  it('deleting a subscription needs configure', async (t) => {
    const broker = await startBroker(t);
    const admin = await adminApi(broker);
    const ex = uniqueName('subs');
    await admin.declareExchange(ex);
    await admin.declareTopic(ex, 't');
    const consumer = await addUser(broker, 'consumer', 'consumer-password', [{ exchange: ex, allow: ['consume'] }]);
    const configurer = await addUser(broker, 'configurer', 'configurer-password', [{ exchange: ex, allow: ['configure'] }]);
    const sub = `/v1/exchanges/${ex}/topics/t/subscriptions/workers`;
    expectStatus(await consumer.put(sub), [201], 'consume may subscribe');
    expectError(await consumer.delete(sub), 403, 'forbidden', 'consume may not delete a subscription');
    assert.equal((await admin.get(sub)).status, 200, 'it is still there');
    expectStatus(await configurer.delete(sub), [200], 'configure may delete it');
    expectError(await admin.get(sub), 404, 'subscription_not_found', 'gone');
  });

  it('a subscription named after a user is that user\'s (MOM-py\'s per-user subscription)', async (t) => {
    const broker = await startBroker(t);
    const admin = await adminApi(broker);
    const ex = uniqueName('mine');
    await admin.declareExchange(ex);
    await admin.declareTopic(ex, 'news');
    const everything: Array<{ exchange: string; allow: Array<'publish' | 'consume' | 'configure'> }> = [{ exchange: ex, allow: ['publish', 'consume', 'configure'] }];
    const alice = await addUser(broker, 'alice', 'alice-password', everything);
    const bob = await addUser(broker, 'bob', 'bob-password-1', everything);
    const topic = `/v1/exchanges/${ex}/topics/news`;
    const aliceSub = `${topic}/subscriptions/alice`;
    const mompy = (operation: 'subscribe' | 'pull') => ({ operation, type: 't', data: { headers: { exchange: ex, routing_key: 'news', message_date: '2024-05-01' } } });

    // Bob cannot take alice's name before she subscribes.
    expectError(await bob.put(aliceSub, { from: 'earliest' }), 403, 'forbidden', 'bob creating alice\'s subscription');
    // Alice subscribes the MOM-py way; her subscription is named after her.
    assert.equal((await alice.post('/send', mompy('subscribe'))).body.subscription, 'alice');
    await admin.publish(topic, [{ payload: 'for alice' }]);

    // Bob can neither read, settle, inspect nor delete it, even with configure.
    expectError(await bob.put(aliceSub), 403, 'forbidden', 'bob declaring it again');
    expectError(await bob.get(`${aliceSub}/messages`), 403, 'forbidden', 'bob pulling');
    expectError(await bob.get(`${aliceSub}/messages?wait_ms=100`), 403, 'forbidden', 'bob long-polling');
    expectError(await bob.post(`${aliceSub}/ack`, { ids: ['x'] }), 403, 'forbidden', 'bob acking');
    expectError(await bob.post(`${aliceSub}/nack`, { ids: ['x'] }), 403, 'forbidden', 'bob nacking');
    expectError(await bob.get(aliceSub), 403, 'forbidden', 'bob reading stats');
    expectError(await bob.get(`${aliceSub}/dead-letters`), 403, 'forbidden', 'bob reading dead letters');
    expectError(await bob.delete(aliceSub), 403, 'forbidden', 'bob deleting');
    // Bob's MOM-py pull reads his own subscription, never alice's.
    const bobPull = await bob.post('/send', mompy('pull'));
    assert.notEqual(bobPull.status, 200, `bob's MOM-py pull got nothing of alice's: ${bobPull.text}`);

    // Alice reads it; bob's own per-user subscription is his in turn.
    const [message] = await alice.pull(aliceSub);
    assert.equal(message?.payload, 'for alice');
    await alice.ack(aliceSub, [message!.id]);
    expectStatus(await bob.put(`${topic}/subscriptions/bob`), [201], 'bob\'s own');
    expectError(await alice.get(`${topic}/subscriptions/bob/messages`), 403, 'forbidden', 'alice pulling bob\'s');
    // Names that are no user's are shared as before.
    expectStatus(await bob.put(`${topic}/subscriptions/team`), [201], 'a shared subscription');
    assert.equal((await alice.get(`${topic}/subscriptions/team`)).status, 200);
    // An admin may do everything, including deleting a user's subscription.
    assert.equal((await admin.get(aliceSub)).status, 200);
    expectStatus(await admin.delete(aliceSub), [200], 'the admin deletes it');
    expectError(await bob.put(aliceSub), 403, 'forbidden', 'still alice\'s name');
  });
});
