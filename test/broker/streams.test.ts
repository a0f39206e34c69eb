/**
 * Push delivery over Server-Sent Events against the real broker (`--role all`), DESIGN §8
 * "Streams" and issue 8's "must hold": the event format, prefetch as a bound on unsettled
 * messages that acks give back exactly, publish order, redelivery with a counted failure when
 * a stream closes, lease expiry, competing streams and pulls, server-ended streams, a slow
 * reader that holds back only itself, and many idle streams.
 */
import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import { test } from 'node:test';
import { startBroker } from '../helpers/broker';
import { waitFor } from '../helpers/wait';
import { openStream, type OpenedStream } from '../helpers/event-stream';
import { addUser, adminApi, expectStatus, uniqueName } from '../helpers/http-api';

test('streams on a single node', { timeout: 300_000 }, async (t) => {
  const broker = await startBroker(t, { args: ['--stream-keepalive-ms', '300', '--max-long-polls-per-user', '1000'] });
  const api = await adminApi(broker);
  const exchange = uniqueName('streams');
  await api.declareExchange(exchange);

  async function freshQueue(options?: Record<string, unknown>): Promise<string> {
    const name = uniqueName('q');
    await api.declareQueue(exchange, name, options);
    return `/v1/exchanges/${exchange}/queues/${name}`;
  }

  await t.test('sends each message as one SSE event with the pull JSON, and keepalive comments while idle', async () => {
    const path = await freshQueue();
    const stream = await openStream(broker.url, path, api.token);
    try {
      assert.equal(stream.status, 200);
      assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
      const [id] = await api.publish(path, [{ payload: { n: 1 }, headers: { k: 'v' } }]);
      const event = await stream.next();
      assert.equal(event?.event, 'message');
      assert.equal(event?.id, id);
      const message = JSON.parse(event!.data);
      assert.deepEqual(Object.keys(message).sort(), ['deliveries', 'headers', 'id', 'payload', 'published_at']);
      assert.deepEqual([message.id, message.payload, message.headers, message.deliveries], [id, { n: 1 }, { k: 'v' }, 1]);
      assert.ok(!Number.isNaN(Date.parse(message.published_at)));
      await waitFor('keepalive comments on an idle stream', () => stream.comments() >= 2, { timeoutMs: 5_000, retryErrors: true });
    } finally {
      stream.close();
    }
  });

  await t.test('refuses bad query values, a missing queue and a missing permission before the 200', async () => {
    const path = await freshQueue();
    const bad: Array<Record<string, string | number>> = [{ prefetch: 0 }, { prefetch: 1001 }, { prefetch: 'x' }, { lease_ms: 50 }, { lease_ms: 1.5 }];
    for (const query of bad) {
      const refused = await openStream(broker.url, path, api.token, query);
      assert.equal(refused.status, 400, JSON.stringify(query));
      assert.equal(JSON.parse(refused.errorBody).error.code, 'bad_request');
    }
    const missing = await openStream(broker.url, `/v1/exchanges/${exchange}/queues/nope`, api.token);
    assert.equal(missing.status, 404);
    assert.equal(JSON.parse(missing.errorBody).error.code, 'queue_not_found');
    assert.equal((await openStream(broker.url, path, undefined)).status, 401);
    const publisher = await addUser(broker, uniqueName('pub'), 'publisher-password', [{ exchange, allow: ['publish'] }]);
    const forbidden = await openStream(broker.url, path, publisher.token);
    assert.equal(forbidden.status, 403);
  });

  await t.test('holds at most prefetch unsettled messages, in publish order; an ack or nack gives back exactly its credit', async () => {
    const path = await freshQueue();
    const ids = await api.publish(path, Array.from({ length: 20 }, (_, i) => ({ payload: i })));
    const stream = await openStream(broker.url, path, api.token, { prefetch: 5 });
    try {
      const first = await stream.messages(5);
      assert.deepEqual(first.map((m) => m.id), ids.slice(0, 5), 'the first five, in publish order');
      assert.equal(await stream.next(300), undefined, 'no sixth while five are unsettled');
      assert.equal((await api.ack(path, [first[0]!.id, first[1]!.id])).acked, 2);
      const next = await stream.messages(2);
      assert.deepEqual(next.map((m) => m.id), ids.slice(5, 7), 'two acks, two more');
      assert.equal(await stream.next(300), undefined);
      expectStatus(await api.post(`${path}/nack`, { ids: [first[2]!.id], requeue: true }), [200], 'nack');
      const afterNack = await stream.messages(1);
      assert.equal(afterNack[0]!.id, first[2]!.id, 'the nacked message comes first again');
      assert.equal(afterNack[0]!.deliveries, 2);
      assert.equal(await stream.next(300), undefined);
      const stats = (await api.get(path)).body;
      assert.equal(stats.in_flight, 5);
    } finally {
      stream.close();
    }
  });

  await t.test('a stream that closes with unsettled messages: another consumer gets them at once, deliveries + 1, dead-lettered past max_deliveries', async () => {
    const path = await freshQueue({ max_deliveries: 2 });
    const ids = await api.publish(path, [{ payload: 'a' }, { payload: 'b' }]);
    const first = await openStream(broker.url, path, api.token, { lease_ms: 600_000 });
    assert.deepEqual((await first.messages(2)).map((m) => m.deliveries), [1, 1]);
    const second = await openStream(broker.url, path, api.token, { lease_ms: 600_000 });
    try {
      assert.equal(await second.next(300), undefined, 'nothing while the first stream holds them');
      first.close();
      const again = await second.messages(2, 5_000);
      assert.deepEqual(again.map((m) => [m.id, m.deliveries]), ids.map((id) => [id, 2]));
      second.close();
      await waitFor('the second failed delivery to dead-letter both (max_deliveries 2)', async () => (await api.get(path)).body.dead_letters === 2, { timeoutMs: 10_000, retryErrors: true });
    } finally {
      second.close();
    }
  });

  await t.test('a lease that expires on a stream redelivers as with pull', async () => {
    const path = await freshQueue();
    const [id] = await api.publish(path, [{ payload: 'x' }]);
    const stream = await openStream(broker.url, path, api.token, { lease_ms: 300, prefetch: 1 });
    try {
      const [first] = await stream.messages(1);
      assert.equal(first!.id, id);
      const [again] = await stream.messages(1, 10_000);
      assert.deepEqual([again!.id, again!.deliveries], [id, 2]);
      assert.equal((await api.ack(path, [id!])).acked, 1);
    } finally {
      stream.close();
    }
  });

  await t.test('streams compete with each other and with pulls: every message goes to exactly one of them', async () => {
    const path = await freshQueue();
    const streams = await Promise.all([0, 1].map(() => openStream(broker.url, path, api.token, { prefetch: 1000 })));
    try {
      const ids = await api.publish(path, Array.from({ length: 200 }, (_, i) => ({ payload: i })));
      const pulled = await api.pull(path, { max: 50 });
      const seen = new Map<string, number>();
      for (const message of pulled) seen.set(message.id, (seen.get(message.id) ?? 0) + 1);
      const counts = [0, 0];
      while ([...seen.values()].reduce((a, b) => a + b, 0) < ids.length) {
        let progressed = false;
        for (const [i, stream] of streams.entries()) {
          const event = await stream.next(200);
          if (!event) continue;
          const message = JSON.parse(event.data);
          seen.set(message.id, (seen.get(message.id) ?? 0) + 1);
          counts[i]!++;
          progressed = true;
        }
        if (!progressed) break;
      }
      assert.deepEqual([...seen.keys()].sort(), [...ids].sort(), 'every message delivered');
      assert.ok([...seen.values()].every((n) => n === 1), 'each once');
      assert.ok(counts[0]! > 0 && counts[1]! > 0, `both streams got messages: ${counts.join(', ')}`);
    } finally {
      for (const stream of streams) stream.close();
    }
  });

  await t.test('the server ends a stream with an error event: the queue was deleted', async () => {
    const path = await freshQueue();
    const stream = await openStream(broker.url, path, api.token);
    expectStatus(await api.delete(path), [200, 204], 'delete the queue');
    const event = await stream.next(5_000);
    assert.equal(event?.event, 'error');
    assert.equal(JSON.parse(event!.data).error.code, 'queue_not_found');
    await waitFor('the stream to end after its error event', () => stream.ended(), { timeoutMs: 5_000, retryErrors: true });
  });

  await t.test('a reader that stops reading holds back only itself; its unsettled messages stay bounded', async () => {
    const path = await freshQueue();
    const payload = 'x'.repeat(60_000);
    // A raw socket that asks for the stream and never reads a byte of the answer.
    const socket = tcpConnect(Number(new URL(broker.url).port), '127.0.0.1');
    socket.pause();
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(`GET ${path}/stream?prefetch=1000 HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${api.token}\r\n\r\n`);
    try {
      for (let i = 0; i < 15; i++) await api.publish(path, Array.from({ length: 10 }, () => ({ payload })));
      // The slow stream takes what fits in the socket buffers, then nothing more.
      await waitFor('the slow stream to take some messages', async () => (await api.get(path)).body.in_flight > 0, { timeoutMs: 5_000, retryErrors: true });
      let held = -1;
      await waitFor(
        'the slow stream to stop taking messages', async () => {
          const now = (await api.get(path)).body.in_flight as number;
          const stable = now === held;
          held = now;
          return stable;
        }, { timeoutMs: 10_000, intervalMs: 300, retryErrors: true }
      );
      assert.ok(held < 150, `the slow stream holds ${held} of 150 (it stopped once its socket was full)`);
      const rest = await api.drain(path, { max: 100 });
      assert.equal(rest.length, 150 - held, 'another consumer gets every message the slow one did not take');
    } finally {
      socket.destroy();
    }
  });

  await t.test('1,000 idle streams: other clients are still answered; one more than the per-user bound is refused', { timeout: 120_000 }, async () => {
    const path = await freshQueue();
    const streams: OpenedStream[] = [];
    // A user of their own, so that no stream of another test counts against the bound.
    const many = await addUser(broker, uniqueName('many'), 'many-streams-password', [{ exchange, allow: ['consume'] }]);
    for (let i = 0; i < 1000; i += 100) {
      streams.push(...(await Promise.all(Array.from({ length: 100 }, () => openStream(broker.url, path, many.token)))));
    }
    try {
      assert.ok(streams.every((s) => s.status === 200));
      const past = await openStream(broker.url, path, many.token);
      assert.equal(past.status, 429, 'a stream past --max-long-polls-per-user is refused');
      assert.equal(JSON.parse(past.errorBody).error.code, 'too_many_requests');
      const other = await freshQueue();
      const started = Date.now();
      const ids = await api.publish(other, Array.from({ length: 100 }, (_, i) => ({ payload: i })));
      const pulled = await api.drain(other, { max: 100 });
      assert.deepEqual(pulled.map((m) => m.id).sort(), [...ids].sort());
      console.log(`with 1000 idle streams open: publish + drain of 100 messages took ${Date.now() - started} ms`);
      const [id] = await api.publish(path, [{ payload: 'one' }]);
      let receivers = 0;
      await waitFor(
        'one of the 1000 streams to get the message', async () => {
          for (const stream of streams) if ((await stream.next(0))?.id === id) receivers++;
          return receivers > 0;
        }, { timeoutMs: 10_000, retryErrors: true }
      );
      assert.equal(receivers, 1);
    } finally {
      for (const stream of streams) stream.close();
    }
  });

  await t.test('shutdown ends every stream with a retryable error event and exits 0', async (st) => {
    const own = await startBroker(st);
    const ownApi = await adminApi(own);
    await ownApi.declareExchange('x');
    await ownApi.declareQueue('x', 'q');
    const stream = await openStream(own.url, '/v1/exchanges/x/queues/q', ownApi.token);
    const exited = own.stop('SIGTERM');
    const event = await stream.next(5_000);
    assert.equal(event?.event, 'error');
    assert.equal(JSON.parse(event!.data).error.code, 'unavailable');
    assert.equal(await exited, 0);
  });
});
