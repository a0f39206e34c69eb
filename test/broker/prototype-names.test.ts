/**
 * Names that are properties of every JavaScript object (`constructor`, `__proto__`, `toString`,
 * `hasOwnProperty`) are names like any other (issue 11 §3): nothing keyed by a client's string
 * takes them for something that exists. Exchanges, queues, topics, subscriptions, users, grants
 * and message headers with these names work, survive a restart, and are deleted for real.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect } from '../../src/client';
import { startBroker } from '../helpers/broker';
import { adminApi, addUser, expectError, expectStatus, runCli } from '../helpers/http-api';

const NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];

describe('names that every JavaScript object has', () => {
  it('are not taken for existing exchanges, queues or subscriptions', async (t) => {
    const broker = await startBroker(t);
    const admin = await adminApi(broker);

    // Undeclared: every one of them is missing, as any other name would be.
    expectError(await admin.put('/v1/exchanges/__proto__/queues/x'), 404, 'exchange_not_found', 'queue in the undeclared exchange __proto__');
    for (const name of NAMES) {
      expectError(await admin.delete(`/v1/exchanges/${name}`), 404, 'exchange_not_found', `DELETE of the undeclared exchange ${name}`);
      expectError(await admin.put(`/v1/exchanges/${name}/queues/q`), 404, 'exchange_not_found', `queue in the undeclared exchange ${name}`);
      expectError(await admin.put(`/v1/exchanges/${name}/topics/t`), 404, 'exchange_not_found', `topic in the undeclared exchange ${name}`);
    }
    assert.deepEqual((await admin.get('/v1/exchanges')).body.exchanges, [], 'nothing was created');

    // Declared: 201 the first time, 200 the second, and listed.
    for (const name of NAMES) {
      expectStatus(await admin.put(`/v1/exchanges/${name}`), [201], `PUT /v1/exchanges/${name} creates it`);
      expectStatus(await admin.put(`/v1/exchanges/${name}`), [200], `PUT /v1/exchanges/${name} again`);
    }
    const listed = (await admin.get('/v1/exchanges')).body.exchanges.map((e: { name: string }) => e.name).sort();
    assert.deepEqual(listed, [...NAMES].sort());

    // Queues, topics and subscriptions with these names, in exchanges with these names.
    for (const [i, exchange] of NAMES.entries()) {
      const queueName = NAMES[(i + 1) % NAMES.length]!;
      const q = `/v1/exchanges/${exchange}/queues/${queueName}`;
      expectError(await admin.get(q), 404, 'queue_not_found', `stats of the undeclared queue ${queueName}`);
      expectError(await admin.post(`${q}/messages`, { payload: 1 }), 404, 'queue_not_found', `publish to the undeclared queue ${queueName}`);
      expectStatus(await admin.put(q), [201], `declare queue ${exchange}/${queueName}`);
      const [id] = await admin.publish(q, [{ payload: { [exchange]: queueName }, headers: { [queueName]: exchange } }]);
      const [message] = await admin.pull(q);
      assert.equal(message?.id, id);
      assert.deepEqual(message?.payload, JSON.parse(`{${JSON.stringify(exchange)}:${JSON.stringify(queueName)}}`), 'a payload key named like a prototype property is kept');
      assert.deepEqual(Object.keys(message!.headers), [queueName], 'a header named like a prototype property is kept');
      assert.deepEqual(await admin.ack(q, [id!]), { acked: 1, unknown: [] });

      const topic = `/v1/exchanges/${exchange}/topics/${queueName}`;
      expectStatus(await admin.put(topic), [201], `declare topic ${exchange}/${queueName}`);
      expectError(await admin.get(`${topic}/subscriptions/${exchange}/messages`), 404, 'subscription_not_found', `pull from the undeclared subscription ${exchange}`);
      expectStatus(await admin.put(`${topic}/subscriptions/${exchange}`, { from: 'earliest' }), [201], `subscription ${exchange}`);
      const [topicId] = await admin.publish(topic, [{ payload: 'to the topic' }]);
      assert.deepEqual((await admin.drain(`${topic}/subscriptions/${exchange}`)).map((m) => m.id), [topicId]);
    }

    // The exchanges survive a restart (the coordinator's state file keeps them).
    const restarted = await broker.restart();
    const again = await adminApi(restarted);
    const relisted = (await again.get('/v1/exchanges')).body.exchanges.map((e: { name: string }) => e.name).sort();
    assert.deepEqual(relisted, [...NAMES].sort(), 'every exchange is still there after a restart');
    expectStatus(await again.put('/v1/exchanges/__proto__'), [200], 'the exchange __proto__ exists after a restart');

    // Deleted for real: 200, then gone.
    for (const name of NAMES) {
      expectStatus(await again.delete(`/v1/exchanges/${name}?force=true`), [200], `DELETE /v1/exchanges/${name}`);
      expectError(await again.delete(`/v1/exchanges/${name}`), 404, 'exchange_not_found', `DELETE /v1/exchanges/${name} again`);
    }
    assert.deepEqual((await again.get('/v1/exchanges')).body.exchanges, []);
  });

  it('work as user names, grant patterns, SDK handles and CLI headers', async (t) => {
    const broker = await startBroker(t);
    const admin = await adminApi(broker);
    await admin.declareExchange('__proto__');
    await admin.declareExchange('constructor');
    await admin.declareQueue('__proto__', 'q');
    await admin.declareQueue('constructor', 'q');

    // A user named constructor with a grant on the exchange __proto__ only.
    const user = await addUser(broker, 'constructor', 'constructor-password', [{ exchange: '__proto__', allow: ['publish', 'consume'] }]);
    assert.equal((await user.post('/validate')).body.user.username, 'constructor');
    await user.publish('/v1/exchanges/__proto__/queues/q', [{ payload: 'allowed' }]);
    expectError(await user.post('/v1/exchanges/constructor/queues/q/messages', { payload: 1 }), 403, 'forbidden', 'no grant on the exchange constructor');
    expectError(await user.post('/v1/exchanges/toString/queues/q/messages', { payload: 1 }), 403, 'forbidden', 'no grant on the exchange toString');
    const wrong = await fetch(`${broker.url}/auth`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'toString', pass: 'whatever-password' }) });
    assert.equal(wrong.status, 401, 'a user named toString does not exist');
    await wrong.arrayBuffer();

    // The SDK: handles and declarations keyed by these names.
    const conn = await connect({ url: broker.url, user: 'admin', password: broker.adminPassword });
    t.after(() => conn.close());
    assert.equal((await conn.declareExchange('hasOwnProperty')).created, true);
    const queue = conn.queue('hasOwnProperty', 'toString');
    assert.equal((await queue.declare()).created, true);
    assert.equal((await queue.declare()).created, false);
    // fromEntries: an own property named __proto__ (an object literal would set the prototype).
    await queue.publish({ n: 1 }, { headers: Object.fromEntries([['__proto__', 'kept']]) });
    const [message] = await admin.pull('/v1/exchanges/hasOwnProperty/queues/toString');
    assert.deepEqual(message?.payload, { n: 1 });
    assert.equal(JSON.stringify(message?.headers), '{"__proto__":"kept"}');

    // The CLI: --header __proto__=x is a header like any other.
    await runCliWithPassword(['publish', '__proto__', 'q', '"with a header"', '--header', '__proto__=x', '--header', 'constructor=y', '--url', broker.url, '--user', 'admin'], broker.adminPassword);
    const pulled = await admin.drain('/v1/exchanges/__proto__/queues/q');
    const withHeader = pulled.find((m) => m.payload === 'with a header');
    assert.ok(withHeader, 'the CLI published the message');
    assert.equal(JSON.stringify(withHeader.headers), '{"__proto__":"x","constructor":"y"}');
  });
});

/** `mombroker <args>` with the password in MOM_PASSWORD, as a script would give it. */
async function runCliWithPassword(args: string[], password: string): Promise<string> {
  const previous = process.env.MOM_PASSWORD;
  process.env.MOM_PASSWORD = password;
  try {
    return await runCli(args);
  } finally {
    if (previous === undefined) delete process.env.MOM_PASSWORD;
    else process.env.MOM_PASSWORD = previous;
  }
}
