/**
 * Listing and repair against the real broker (`--role all`), DESIGN §8: the queues and topics
 * of an exchange with their stats, purge (ready messages go, leased ones stay), redrive of dead
 * letters (deliverable again with their deliveries counted from 1) and their deletion, with
 * the permissions they need, and the delivery state that must stay right around them (unread
 * messages, redeliveries, max_length, waiting consumers, streams, a restart).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startBroker} from '../helpers/broker';
import { waitFor } from '../helpers/wait';
import { openStream } from '../helpers/event-stream';
import { addUser, adminApi, expectError, expectStatus, uniqueName, type Api } from '../helpers/http-api';

test('listing and repair on a single node', { timeout: 300_000 }, async (t) => {
  // One long poll per user: a test can tell that a long poll waits (a second one gets 429).
  const broker = await startBroker(t, { args: ['--max-long-polls-per-user', '1'] });
  const admin = await adminApi(broker);
  const exchange = uniqueName('repair');
  await admin.declareExchange(exchange);
  const base = `/v1/exchanges/${exchange}`;

  async function freshQueue(options?: Record<string, unknown>): Promise<{ name: string; path: string }> {
    const name = uniqueName('q');
    await admin.declareQueue(exchange, name, options);
    return { name, path: `${base}/queues/${name}` };
  }

  async function stats(api: Api, path: string): Promise<{ depth: number; in_flight: number; dead_letters: number }> {
    const response = await api.get(path);
    expectStatus(response, [200], `stats of ${path}`);
    return { depth: response.body.depth, in_flight: response.body.in_flight, dead_letters: response.body.dead_letters };
  }

  /** Publishes `n` messages, pulls them all and nacks them with requeue:false: `n` dead letters. */
  async function deadLetters(path: string, n: number): Promise<string[]> {
    const ids = await admin.publish(path, Array.from({ length: n }, (_, i) => ({ payload: { dead: i } })));
    const pulled = await admin.pull(path, { max: n });
    assert.equal(pulled.length, n);
    assert.deepEqual(await admin.nack(path, ids, false), { nacked: n, unknown: [] });
    return ids;
  }

  await t.test('GET …/queues and …/topics list everything of the exchange with its stats, sorted by name', async () => {
    const ex = uniqueName('list');
    await admin.declareExchange(ex);
    for (const name of ['zeta', 'alpha', 'mid']) await admin.declareQueue(ex, name);
    await admin.publish(`/v1/exchanges/${ex}/queues/alpha`, [{ payload: 1 }, { payload: 2 }, { payload: 3 }]);
    await admin.pull(`/v1/exchanges/${ex}/queues/alpha`, { max: 1 });
    await admin.declareTopic(ex, 'news', { retention_ms: 60_000 });
    await admin.declareTopic(ex, 'alerts');
    await admin.subscribe(ex, 'news', 'web');
    await admin.subscribe(ex, 'news', 'audit');
    await admin.publish(`/v1/exchanges/${ex}/topics/news`, [{ payload: 'n' }]);

    const queues = await admin.get(`/v1/exchanges/${ex}/queues`);
    expectStatus(queues, [200], 'list queues');
    assert.deepEqual(Object.keys(queues.body), ['queues']);
    assert.deepEqual(
      queues.body.queues.map((q: Record<string, unknown>) => Object.keys(q)),
      [0, 1, 2].map(() => ['name', 'depth', 'in_flight', 'dead_letters', 'partition', 'leader']),
    );
    assert.deepEqual(
      queues.body.queues.map((q: Record<string, unknown>) => [q.name, q.depth, q.in_flight, q.dead_letters, q.leader]),
      [
        ['alpha', 2, 1, 0, 'node-1'],
        ['mid', 0, 0, 0, 'node-1'],
        ['zeta', 0, 0, 0, 'node-1'],
      ],
    );
    for (const q of queues.body.queues) {
      assert.equal(q.partition, (await admin.get(`/v1/exchanges/${ex}/queues/${q.name}`)).body.partition, `${q.name}: the partition its stats name`);
    }

    const topics = await admin.get(`/v1/exchanges/${ex}/topics`);
    expectStatus(topics, [200], 'list topics');
    assert.deepEqual(
      topics.body.topics.map((topic: Record<string, unknown>) => [topic.name, topic.retention_ms, topic.leader, Object.keys(topic)]),
      [
        ['alerts', 7 * 24 * 3600 * 1000, 'node-1', ['name', 'retention_ms', 'partition', 'leader', 'subscriptions']],
        ['news', 60_000, 'node-1', ['name', 'retention_ms', 'partition', 'leader', 'subscriptions']],
      ],
    );
    assert.deepEqual(topics.body.topics[0].subscriptions, []);
    assert.deepEqual(topics.body.topics[1].subscriptions, [
      { name: 'audit', depth: 1, in_flight: 0, dead_letters: 0 },
      { name: 'web', depth: 1, in_flight: 0, dead_letters: 0 },
    ]);

    const empty = uniqueName('empty');
    await admin.declareExchange(empty);
    assert.deepEqual((await admin.get(`/v1/exchanges/${empty}/queues`)).body, { queues: [] });
    assert.deepEqual((await admin.get(`/v1/exchanges/${empty}/topics`)).body, { topics: [] });
    expectError(await admin.get(`/v1/exchanges/${uniqueName('nowhere')}/queues`), 404, 'exchange_not_found', 'an undeclared exchange');
    expectError(await admin.get(`/v1/exchanges/${ex}/queues?partitions=99`), 400, 'bad_request', 'a partition out of range');
    expectError(await admin.get(`/v1/exchanges/${ex}/queues?partitions=x`), 400, 'bad_request', 'partitions that are not numbers');
    expectError(await admin.post(`/v1/exchanges/${ex}/queues`, {}), 405, 'method_not_allowed', 'POST on the list');

    // Permissions: like a queue's stats, any grant on the exchange. A per-user subscription
    // of another user is not shown, as its stats would be refused.
    const reader = uniqueName('reader');
    const publisher = await addUser(broker, reader, 'reader-password', [{ exchange: ex, allow: ['publish'] }]);
    const owner = uniqueName('owner');
    await addUser(broker, owner, 'owner-password');
    await admin.subscribe(ex, 'news', owner);
    assert.deepEqual(
      (await publisher.get(`/v1/exchanges/${ex}/queues`)).body.queues.map((q: { name: string }) => q.name),
      ['alpha', 'mid', 'zeta'],
    );
    assert.deepEqual(
      (await publisher.get(`/v1/exchanges/${ex}/topics`)).body.topics[1].subscriptions.map((s: { name: string }) => s.name),
      ['audit', 'web'],
    );
    assert.deepEqual(
      (await admin.get(`/v1/exchanges/${ex}/topics`)).body.topics[1].subscriptions.map((s: { name: string }) => s.name),
      ['audit', owner, 'web'].sort(),
      'an admin sees every subscription',
    );
    const stranger = await addUser(broker, uniqueName('stranger'), 'stranger-password', [{ exchange: `${ex}-other`, allow: ['consume'] }]);
    expectError(await stranger.get(`/v1/exchanges/${ex}/queues`), 403, 'forbidden', 'no grant on the exchange');
    expectError(await stranger.get(`/v1/exchanges/${ex}/topics`), 403, 'forbidden', 'no grant on the exchange');
    expectError(await admin.get(`/v1/exchanges/${ex}/queues`, { authorization: '' }), 401, 'unauthorized', 'no token');
  });

  await t.test('purge removes the ready messages and leaves the leased ones with their consumer', async () => {
    const { path } = await freshQueue();
    const ids = await admin.publish(path, Array.from({ length: 5 }, (_, i) => ({ payload: i })));
    const leased = await admin.pull(path, { max: 2, lease_ms: 60_000 });
    assert.deepEqual(leased.map((m) => m.id), ids.slice(0, 2));

    const purged = await admin.post(`${path}/purge`);
    expectStatus(purged, [200], 'purge');
    assert.deepEqual(purged.body, { purged: 3 });
    assert.deepEqual(await stats(admin, path), { depth: 0, in_flight: 2, dead_letters: 0 });
    assert.deepEqual(await admin.pull(path, { max: 10 }), [], 'nothing ready is left');
    // The leased messages may still be settled: one acked, one nacked back into the queue.
    assert.deepEqual(await admin.ack(path, [ids[0]!]), { acked: 1, unknown: [] });
    assert.deepEqual(await admin.nack(path, [ids[1]!], true), { nacked: 1, unknown: [] });
    const after = await admin.publish(path, [{ payload: 'after the purge' }]);
    const again = await admin.pull(path, { max: 10 });
    assert.deepEqual(
      again.map((m) => [m.id, m.deliveries]),
      [
        [ids[1], 2],
        [after[0], 1],
      ],
      'the nacked message comes back, then what was published since',
    );
    await admin.ack(path, again.map((m) => m.id));
    assert.deepEqual((await admin.post(`${path}/purge`)).body, { purged: 0 }, 'an empty queue');
    expectError(await admin.post(`${path}/purge`, { all: true }), 400, 'bad_request', 'a purge with fields');
    expectError(await admin.post(`${base}/queues/missing/purge`), 404, 'queue_not_found', 'purge of an unknown queue');
  });

  await t.test('after a purge, messages read ahead or queued for redelivery are not delivered; max_length counts again', async () => {
    const { path } = await freshQueue({ max_length: 4 });
    // A consumer that keeps up makes the node remember unread messages (no store read).
    await admin.publish(path, [{ payload: 'first' }]);
    const [first] = await admin.pull(path, { max: 10 }); // a short read: the node now knows every unread message
    await admin.nack(path, [first!.id], true); // queued for redelivery
    await admin.publish(path, [{ payload: 'a' }, { payload: 'b' }, { payload: 'c' }]);
    expectError(await admin.post(`${path}/messages`, { payload: 'too many' }), 429, 'queue_full', 'max_length 4 reached');
    assert.deepEqual((await admin.post(`${path}/purge`)).body, { purged: 4 });
    const fresh = await admin.publish(path, [{ payload: 'x' }, { payload: 'y' }, { payload: 'z' }, { payload: 'w' }]);
    const pulled = await admin.pull(path, { max: 10 });
    assert.deepEqual(pulled.map((m) => m.id), fresh, 'only what was published after the purge');
  });

  await t.test('a purge of a subscription leaves the topic and other subscriptions alone', async () => {
    const topic = uniqueName('t');
    await admin.declareTopic(exchange, topic);
    await admin.subscribe(exchange, topic, 'one');
    await admin.subscribe(exchange, topic, 'two');
    await admin.publish(`${base}/topics/${topic}`, [{ payload: 1 }, { payload: 2 }]);
    const one = `${base}/topics/${topic}/subscriptions/one`;
    const two = `${base}/topics/${topic}/subscriptions/two`;
    assert.deepEqual((await admin.post(`${one}/purge`)).body, { purged: 2 });
    assert.deepEqual(await stats(admin, one), { depth: 0, in_flight: 0, dead_letters: 0 });
    assert.deepEqual(await stats(admin, two), { depth: 2, in_flight: 0, dead_letters: 0 });
    await admin.publish(`${base}/topics/${topic}`, [{ payload: 3 }]);
    assert.deepEqual((await admin.pull(one, { max: 10 })).map((m) => m.payload), [3]);
  });

  await t.test('redrive makes dead letters deliverable again, counting deliveries from 1; by ids or all', async () => {
    const { path } = await freshQueue({ max_deliveries: 1 });
    const ids = await deadLetters(path, 3);
    assert.deepEqual(await stats(admin, path), { depth: 0, in_flight: 0, dead_letters: 3 });

    const one = await admin.post(`${path}/dead-letters/redrive`, { ids: [ids[1], 'unknown-id'] });
    expectStatus(one, [200], 'redrive by id');
    assert.deepEqual(one.body, { redriven: 1 });
    assert.deepEqual(await stats(admin, path), { depth: 1, in_flight: 0, dead_letters: 2 });
    const [again] = await admin.pull(path, { max: 10 });
    assert.deepEqual([again?.id, again?.deliveries], [ids[1], 1], 'its failed deliveries start over');
    // max_deliveries 1 applies afresh: one more failure dead-letters it again.
    await admin.nack(path, [ids[1]!], true);
    assert.deepEqual(await stats(admin, path), { depth: 0, in_flight: 0, dead_letters: 3 });

    assert.deepEqual((await admin.post(`${path}/dead-letters/redrive`)).body, { redriven: 3 });
    const all = await admin.pull(path, { max: 10 });
    assert.deepEqual(all.map((m) => [m.id, m.deliveries]), ids.map((id) => [id, 1]), 'in publish order');
    await admin.ack(path, ids);
    assert.deepEqual((await admin.post(`${path}/dead-letters/redrive`, {})).body, { redriven: 0 }, 'nothing dead');
    assert.deepEqual((await admin.post(`${path}/dead-letters/redrive`, { ids: [] })).body, { redriven: 0 });
    expectError(await admin.post(`${path}/dead-letters/redrive`, { ids: 'all' }), 400, 'bad_request', 'ids not an array');
    expectError(await admin.post(`${path}/dead-letters/redrive`, { what: 1 }), 400, 'bad_request', 'an unknown field');
  });

  await t.test('a redrive wakes a waiting long poll and a stream', async () => {
    const { path } = await freshQueue({ max_deliveries: 1 });
    const [id] = await deadLetters(path, 1);
    // The broker allows one long poll per user: a second one refused with 429 shows the first waits.
    const waiting = (async () => {
      for (;;) {
        const answer = await admin.get(`${path}/messages?wait_ms=20000`);
        if (answer.status !== 429) return answer;
      }
    })();
    await waitFor('the long poll to wait', async () => (await admin.get(`${path}/messages?wait_ms=1`)).status === 429, { retryErrors: true });
    assert.deepEqual((await admin.post(`${path}/dead-letters/redrive`)).body, { redriven: 1 });
    const woken = await waiting;
    expectStatus(woken, [200], 'the long poll');
    assert.equal(woken.body.messages[0]?.id, id);
    assert.ok(woken.ms < 15_000, `answered when the redrive happened, not at the end of its wait (${Math.round(woken.ms)} ms)`);
    await admin.nack(path, [id!], true);

    const stream = await openStream(broker.url, path, admin.token);
    try {
      assert.equal(stream.status, 200);
      assert.deepEqual((await admin.post(`${path}/dead-letters/redrive`)).body, { redriven: 1 });
      const [streamed] = await stream.messages(1, 10_000);
      assert.deepEqual([streamed?.id, streamed?.deliveries], [id, 1]);
    } finally {
      stream.close();
    }
  });

  await t.test('DELETE …/dead-letters deletes them all, or the ids given', async () => {
    const { path } = await freshQueue();
    const ids = await deadLetters(path, 4);
    const one = await admin.call('DELETE', `${path}/dead-letters`, { ids: [ids[0]] });
    expectStatus(one, [200], 'delete one dead letter');
    assert.deepEqual(one.body, { deleted: 1 });
    const listed = await admin.get(`${path}/dead-letters`);
    assert.deepEqual(listed.body.dead_letters.map((d: { id: string }) => d.id), ids.slice(1));
    assert.deepEqual((await admin.delete(`${path}/dead-letters`)).body, { deleted: 3 });
    assert.deepEqual(await stats(admin, path), { depth: 0, in_flight: 0, dead_letters: 0 });
    assert.deepEqual((await admin.delete(`${path}/dead-letters`)).body, { deleted: 0 });
  });

  await t.test('the same three on a subscription', async () => {
    const topic = uniqueName('t');
    await admin.declareTopic(exchange, topic);
    await admin.subscribe(exchange, topic, 'sub');
    const sub = `${base}/topics/${topic}/subscriptions/sub`;
    const ids = await admin.publish(`${base}/topics/${topic}`, [{ payload: 1 }, { payload: 2 }, { payload: 3 }]);
    await admin.pull(sub, { max: 2 });
    await admin.nack(sub, ids.slice(0, 2), false);
    assert.deepEqual(await stats(admin, sub), { depth: 1, in_flight: 0, dead_letters: 2 });
    assert.deepEqual((await admin.post(`${sub}/dead-letters/redrive`, { ids: [ids[0]] })).body, { redriven: 1 });
    assert.deepEqual((await admin.post(`${sub}/purge`)).body, { purged: 2 });
    assert.deepEqual((await admin.delete(`${sub}/dead-letters`)).body, { deleted: 1 });
    assert.deepEqual(await stats(admin, sub), { depth: 0, in_flight: 0, dead_letters: 0 });
    expectError(await admin.post(`${base}/topics/${topic}/subscriptions/missing/purge`), 404, 'subscription_not_found', 'an unknown subscription');
  });

  await t.test('repairs need configure; a per-user subscription stays its user’s', async () => {
    const { path } = await freshQueue();
    await admin.publish(path, [{ payload: 1 }]);
    const consumer = await addUser(broker, uniqueName('consumer'), 'consumer-password', [{ exchange, allow: ['publish', 'consume'] }]);
    expectError(await consumer.post(`${path}/purge`), 403, 'forbidden', 'purge without configure');
    expectError(await consumer.post(`${path}/dead-letters/redrive`), 403, 'forbidden', 'redrive without configure');
    expectError(await consumer.delete(`${path}/dead-letters`), 403, 'forbidden', 'delete dead letters without configure');
    assert.equal((await stats(admin, path)).depth, 1, 'nothing was purged');
    const configurer = await addUser(broker, uniqueName('ops'), 'ops-password', [{ exchange, allow: ['configure'] }]);
    assert.deepEqual((await configurer.post(`${path}/purge`)).body, { purged: 1 });

    const topic = uniqueName('t');
    await admin.declareTopic(exchange, topic);
    const ownerName = uniqueName('owner');
    const owner = await addUser(broker, ownerName, 'owner-password', [{ exchange, allow: ['consume', 'configure'] }]);
    await owner.subscribe(exchange, topic, ownerName);
    const personal = `${base}/topics/${topic}/subscriptions/${ownerName}`;
    expectError(await configurer.post(`${personal}/purge`), 403, 'forbidden', 'another user’s subscription');
    assert.deepEqual((await owner.post(`${personal}/purge`)).body, { purged: 0 });
  });

  await t.test('repairs are in the log: they hold after a restart', async () => {
    const { path } = await freshQueue({ max_deliveries: 1 });
    const dead = await deadLetters(path, 2);
    await admin.publish(path, [{ payload: 'a' }, { payload: 'b' }]);
    assert.deepEqual((await admin.post(`${path}/purge`)).body, { purged: 2 });
    assert.deepEqual((await admin.post(`${path}/dead-letters/redrive`, { ids: [dead[0]] })).body, { redriven: 1 });
    assert.deepEqual((await admin.delete(`${path}/dead-letters`)).body, { deleted: 1 });
    const restarted = await broker.restart();
    const api = await adminApi(restarted);
    assert.deepEqual(await stats(api, path), { depth: 1, in_flight: 0, dead_letters: 0 });
    assert.deepEqual((await api.pull(path, { max: 10 })).map((m) => [m.id, m.deliveries]), [[dead[0], 1]]);
  });
});
