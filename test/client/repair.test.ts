/** The SDK's repairs against the real broker: queue and subscription purge, redrive, deletion of dead letters. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { connect } from '../../src/client';
import { startBroker } from '../helpers/broker';

test('SDK repairs', async (t) => {
  const broker = await startBroker(t);
  const conn = await connect({ url: broker.url, user: 'admin', password: broker.adminPassword });
  t.after(() => conn.close());
  const exchange = `ex-${randomUUID().slice(0, 8)}`;
  await conn.declareExchange(exchange);

  await t.test('queue.purge() leaves leased messages; redrive() by ids and all; deleteDeadLetters()', async () => {
    const queue = conn.queue(exchange, 'jobs');
    await queue.declare({ max_deliveries: 1 });
    const ids = await queue.publishBatch([1, 2, 3, 4, 5].map((n) => ({ payload: n })));
    const [leased] = await queue.pull({ max: 1 });
    assert.equal(await queue.purge(), 4);
    assert.deepEqual(await queue.stats().then((s) => [s.depth, s.in_flight]), [0, 1]);
    await leased!.nack({ requeue: false });

    const more = await queue.publishBatch([{ payload: 6 }, { payload: 7 }]);
    for (const message of await queue.pull({ max: 10 })) await message.nack();
    assert.deepEqual((await queue.deadLetters()).map((d) => d.id), [ids[0], ...more]);
    assert.equal(await queue.redrive([more[0]!]), 1);
    const [back] = await queue.pull({ max: 10 });
    assert.deepEqual([back?.id, back?.deliveries], [more[0], 1]);
    await back!.ack();
    await queue.flush();
    assert.equal(await queue.deleteDeadLetters([ids[0]!]), 1);
    assert.equal(await queue.redrive(), 1);
    assert.equal(await queue.purge(), 1);
    assert.equal(await queue.deleteDeadLetters(), 0);
    await assert.rejects(queue.redrive(['a', 1 as unknown as string]), { code: 'invalid_argument' });
    await assert.rejects(conn.queue(exchange, 'missing').purge(), { code: 'queue_not_found', status: 404 });
  });

  await t.test('the same on a subscription', async () => {
    const topic = conn.topic(exchange, 'news');
    await topic.declare();
    const subscription = await topic.subscribe('audit');
    await topic.publishBatch([{ payload: 'a' }, { payload: 'b' }]);
    const [first] = await subscription.pull();
    await first!.nack({ requeue: false });
    assert.equal(await subscription.purge(), 1);
    assert.equal(await subscription.redrive(), 1);
    const [again] = await subscription.pull();
    assert.deepEqual([again?.payload, again?.deliveries], ['a', 1]);
    await again!.nack({ requeue: false });
    assert.equal(await subscription.deleteDeadLetters(), 1);
    const stats = await subscription.stats();
    assert.deepEqual([stats.depth, stats.in_flight, stats.dead_letters], [0, 0, 0]);
  });
});
