/**
 * The SDK against the real broker (`mombroker --role all` on port 0): publish, pull, ack,
 * batching, consume, topics, re-login and close.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { connect, type Connection } from '../../src/client';
import { login, startBroker, type RunningBroker } from '../helpers/broker';
import { waitFor } from '../helpers/wait';

async function open(t: TestContext, broker: RunningBroker, extra: Partial<Parameters<typeof connect>[0]> = {}): Promise<Connection> {
  const conn = await connect({ url: broker.url, user: 'admin', password: broker.adminPassword, ...extra });
  t.after(() => conn.close());
  return conn;
}

/** A fresh exchange and queue, named so that tests never share them. */
async function freshQueue(conn: Connection, options = {}) {
  const exchange = `ex-${randomUUID().slice(0, 8)}`;
  await conn.declareExchange(exchange);
  const queue = conn.queue(exchange, 'orders');
  assert.deepEqual(await queue.declare(options), { created: true });
  return queue;
}

test('SDK against a running broker', async (t) => {
  const broker = await startBroker(t);

  await t.test('publish, pull and ack round trip', async (t) => {
    const conn = await open(t, broker);
    const orders = await freshQueue(conn, { max_deliveries: 5 });
    assert.deepEqual(await orders.declare({ max_deliveries: 5 }), { created: false }, 'same options: no conflict');
    await assert.rejects(orders.declare({ max_deliveries: 2 }), { code: 'conflict', status: 409 });

    const id = await orders.publish({ sku: 42 }, { headers: { a: 'b' }, id: 'order-1' });
    assert.equal(id, 'order-1');
    assert.equal(await orders.publish({ sku: 42 }, { id: 'order-1' }), 'order-1', 'a repeated producer id is stored once');
    const batchIds = await orders.publishBatch([{ payload: 1 }, { payload: 2 }]);
    assert.equal(batchIds.length, 2);

    const messages = await orders.pull({ max: 10, waitMs: 0 });
    assert.deepEqual(
      messages.map((m) => m.payload),
      [{ sku: 42 }, 1, 2],
    );
    const first = messages[0]!;
    assert.equal(first.id, 'order-1');
    assert.deepEqual(first.headers, { a: 'b' });
    assert.equal(first.deliveries, 1);
    assert.ok(!Number.isNaN(Date.parse(first.publishedAt)));
    assert.deepEqual(JSON.parse(JSON.stringify(first)), { id: 'order-1', payload: { sku: 42 }, headers: { a: 'b' }, published_at: first.publishedAt, deliveries: 1 });

    assert.equal((await orders.stats()).in_flight, 3);
    assert.equal(await first.ack(), true);
    assert.equal(await first.ack(), false, 'a second ack finds no lease');
    const result = await orders.ack([messages[1]!.id, 'no-such-id']);
    assert.deepEqual(result, { acked: 1, unknown: ['no-such-id'] });
    await orders.nack([messages[2]!.id]);
    const again = await orders.pull({ max: 10 });
    assert.equal(again.length, 1);
    assert.equal(again[0]!.payload, 2);
    assert.equal(again[0]!.deliveries, 2, 'a nacked message comes back with one more delivery');
    assert.equal(await again[0]!.nack({ requeue: false }), true);
    const dead = await orders.deadLetters();
    assert.deepEqual(
      dead.map((d) => d.payload),
      [2],
    );
    const stats = await orders.stats();
    assert.equal(stats.depth, 0);
    assert.equal(stats.in_flight, 0);
    assert.equal(stats.dead_letters, 1);
  });

  await t.test('200 concurrent publishes travel in at most a few requests', async (t) => {
    const conn = await open(t, broker);
    const orders = await freshQueue(conn);
    const before = conn.stats().requests;
    const ids = await Promise.all(Array.from({ length: 200 }, (_, n) => orders.publish({ n })));
    const requests = conn.stats().requests - before;
    assert.ok(requests <= 3, `200 publishes took ${requests} requests`);
    assert.equal(new Set(ids).size, 200, 'each caller got its own id');
    const pulled = await orders.pull({ max: 1000 });
    assert.deepEqual(
      pulled.map((m) => m.id),
      ids,
      'stored in publish order, each under the id its caller got',
    );
    assert.deepEqual(
      pulled.map((m) => (m.payload as { n: number }).n),
      Array.from({ length: 200 }, (_, n) => n),
    );
  });

  await t.test('2500 messages of publishBatch are split into requests the server accepts', async (t) => {
    const conn = await open(t, broker);
    const orders = await freshQueue(conn);
    const ids = await orders.publishBatch(Array.from({ length: 2500 }, (_, n) => ({ payload: { n, pad: 'p'.repeat(400) } })));
    assert.equal(ids.length, 2500);
    assert.equal((await orders.stats()).depth, 2500);
  });

  await t.test('consume yields in order, stops on break, and gives back what it did not yield', async (t) => {
    const conn = await open(t, broker);
    const orders = await freshQueue(conn);
    await orders.publishBatch(Array.from({ length: 10 }, (_, n) => ({ payload: n })));
    const seen: number[] = [];
    for await (const message of orders.consume({ max: 10, waitMs: 1000 })) {
      seen.push(message.payload as number);
      assert.equal(await message.ack(), true);
      if (seen.length === 4) break;
    }
    assert.deepEqual(seen, [0, 1, 2, 3]);
    await waitFor('the unyielded messages to be given back', async () => (await orders.stats()).in_flight === 0, { timeoutMs: 15_000, retryErrors: true });
    assert.equal((await orders.stats()).depth, 6);

    const rest: number[] = [];
    for await (const message of orders.consume({ max: 100, waitMs: 200, autoAck: true })) {
      rest.push(message.payload as number);
      if (rest.length === 6) break;
    }
    assert.deepEqual(rest, [4, 5, 6, 7, 8, 9]);
    // The five the loop moved past are acked; the one it broke on is given back, not acked.
    await waitFor('autoAck to ack five and give the last one back', async () => {
      const s = await orders.stats();
      return s.depth === 1 && s.in_flight === 0;
    }, { timeoutMs: 15_000, retryErrors: true });
  });

  await t.test('a consumer waiting in a long poll gets a message published meanwhile', async (t) => {
    const conn = await open(t, broker);
    const orders = await freshQueue(conn);
    const controller = new AbortController();
    const received = (async () => {
      for await (const message of orders.consume({ waitMs: 10_000, signal: controller.signal })) {
        await message.ack();
        return message.payload;
      }
      return undefined;
    })();
    await orders.publish('wake up');
    assert.equal(await received, 'wake up');
    controller.abort();
  });

  await t.test('topics: a subscription sees what is published after it, or everything retained from earliest', async (t) => {
    const conn = await open(t, broker);
    const exchange = `ex-${randomUUID().slice(0, 8)}`;
    await conn.declareExchange(exchange);
    const news = conn.topic(exchange, 'news');
    assert.deepEqual(await news.declare({ retention_ms: 60_000 }), { created: true });
    await news.publish('before');
    const latest = await news.subscribe();
    assert.equal(latest.name, 'admin', 'named after the user by default');
    const audit = await news.subscribe('audit', { from: 'earliest' });
    await news.publish('after');
    const fromLatest = await latest.pull({ max: 10, waitMs: 1000 });
    assert.deepEqual(
      fromLatest.map((m) => m.payload),
      ['after'],
    );
    const fromEarliest: unknown[] = [];
    for await (const message of audit.consume({ waitMs: 1000, autoAck: true })) {
      fromEarliest.push(message.payload);
      if (fromEarliest.length === 2) break;
    }
    assert.deepEqual(fromEarliest, ['before', 'after']);
    await latest.ack(fromLatest.map((m) => m.id));
    await waitFor('the audit subscription to be settled', async () => (await audit.stats()).in_flight === 0, { timeoutMs: 15_000, retryErrors: true });
  });

  await t.test('errors carry the server code and status', async (t) => {
    const conn = await open(t, broker);
    await assert.rejects(conn.queue(`missing-${randomUUID().slice(0, 8)}`, 'q').declare(), { code: 'exchange_not_found', status: 404, retryable: false });
    await assert.rejects(connect({ url: broker.url, user: 'admin', password: 'not-the-password' }), { code: 'invalid_credentials', status: 401 });
  });

  await t.test('a token the server rejects is replaced by a new login', async (t) => {
    const conn = await open(t, broker, { token: 'corrupted.not.a-jwt' });
    assert.equal(conn.stats().logins, 0);
    const orders = await freshQueue(conn);
    assert.equal(conn.stats().logins, 1, 'one login after the 401');
    await orders.publish('ok');
    assert.equal(conn.stats().logins, 1, 'the new token is kept');
  });

  await t.test('close flushes pending publishes, ends consumers, and refuses work afterwards', async (t) => {
    const conn = await connect({ url: broker.url, user: 'admin', password: broker.adminPassword });
    const orders = await freshQueue(conn);
    const other = await open(t, broker);
    const consumed: unknown[] = [];
    const consuming = (async () => {
      for await (const message of orders.consume({ waitMs: 30_000 })) consumed.push(message.payload);
    })();
    const pending = Array.from({ length: 5 }, (_, n) => orders.publish(n));
    const closing = conn.close();
    assert.equal(conn.closed, true);
    await closing;
    await consuming;
    assert.equal((await Promise.all(pending)).length, 5);
    await assert.rejects(orders.publish('late'), { code: 'closed' });
    await assert.rejects(conn.declareExchange('x'), { code: 'closed' });
    await conn.close();
    const stats = await other.queue(orders.exchange, orders.name).stats();
    assert.equal(stats.depth + stats.in_flight + consumed.length, 5, 'every pending publish reached the broker');
  });
});

test('a token about to expire is renewed before it is sent', async (t) => {
  const broker = await startBroker(t, { args: ['--token-ttl-seconds', '10'] });
  const conn = await open(t, broker);
  await conn.declareExchange('expiry');
  assert.equal(conn.stats().logins, 1);
  // Tokens issued now expire at about the same time as the connection's.
  const token = await login(broker.url, 'admin', broker.adminPassword);
  const expiresAt = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number }).exp * 1000;
  await waitFor('the token to expire', () => Date.now() > expiresAt, { timeoutMs: 20_000, intervalMs: 100, retryErrors: true });
  const queue = conn.queue('expiry', 'q');
  assert.deepEqual(await queue.declare(), { created: true });
  assert.equal(conn.stats().logins, 2, 'logged in again instead of sending the expired token');
  assert.equal(await queue.publish('after expiry'), (await queue.pull({ max: 1 }))[0]!.id);
});
