/** The SDK's listings against the real broker: exchanges, and the queues and topics of one. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { connect } from '../../src/client';
import { startBroker } from '../helpers/broker';

test('SDK listings', async (t) => {
  const broker = await startBroker(t);
  const conn = await connect({ url: broker.url, user: 'admin', password: broker.adminPassword });
  t.after(() => conn.close());
  const exchange = `ex-${randomUUID().slice(0, 8)}`;
  await conn.declareExchange(exchange);
  await conn.queue(exchange, 'b').declare();
  await conn.queue(exchange, 'a').declare();
  await conn.queue(exchange, 'a').publish('x');
  await conn.topic(exchange, 'news').declare({ retention_ms: 1000 });
  await conn.topic(exchange, 'news').subscribe('web');

  assert.ok((await conn.listExchanges()).some((e) => e.name === exchange && !Number.isNaN(Date.parse(e.created_at))));
  const queues = await conn.listQueues(exchange);
  assert.deepEqual(
    queues.map((q) => [q.name, q.depth, q.in_flight, q.dead_letters, q.leader]),
    [
      ['a', 1, 0, 0, 'node-1'],
      ['b', 0, 0, 0, 'node-1'],
    ],
  );
  assert.equal(queues[0]!.partition, (await conn.queue(exchange, 'a').stats()).partition);
  const topics = await conn.listTopics(exchange);
  assert.deepEqual(topics.map((topic) => [topic.name, topic.retention_ms, topic.subscriptions]), [['news', 1000, [{ name: 'web', depth: 0, in_flight: 0, dead_letters: 0 }]]]);
  await assert.rejects(conn.listQueues(`nope-${randomUUID().slice(0, 8)}`), { code: 'exchange_not_found', status: 404 });
});
