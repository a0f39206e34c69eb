/**
 * Publishing on a partition's leader (DESIGN §2, §8): ids, producer-id deduplication within
 * the window, max_length, topics' fan-out, through a PartitionEngine over a NodeStore in a
 * temp dir and a LocalCommitLog.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { targetKey } from '../../../../src/core/entries';
import type { MomError } from '../../../../src/core/errors';
import { PARTITION, QUEUE_INBOX, declareQueue, messages, payloads, publishToQueue, pullNow, startEngine, USER } from '../../../helpers/partition-engine';
import { waitFor } from '../../../helpers/wait';

const code = (expected: string) => (error: MomError) => error.code === expected;

test('a publish answers one new id per message, in order, and they are delivered in that order with their headers', async (t) => {
  const { engine } = await startEngine(t);
  await declareQueue(engine);
  const result = await engine.publish('queue', 'ex', 'q', [...messages(['a', 'b']), { payload: '"c"', headers: '{"k":"v"}', producerId: undefined }], 'all');
  assert.equal(result.duplicates, 0);
  assert.equal(new Set(result.ids).size, 3);
  const delivered = await pullNow(engine, QUEUE_INBOX);
  assert.deepEqual(delivered.map((m) => m.msg_id), result.ids);
  assert.deepEqual(payloads(delivered), ['a', 'b', 'c']);
  assert.deepEqual(delivered.map((m) => m.headers), [null, null, '{"k":"v"}']);
});

test('a producer id is the message id; published again within the window nothing is stored and the original id answers', async (t) => {
  const { engine, store } = await startEngine(t);
  await declareQueue(engine);
  assert.deepEqual(await engine.publish('queue', 'ex', 'q', messages(['first'], 'order-1'), 'all'), { ids: ['order-1'], duplicates: 0 });
  const logEnd = store.position(PARTITION).logEnd;
  assert.deepEqual(await engine.publish('queue', 'ex', 'q', messages(['retry'], 'order-1'), 'all'), { ids: ['order-1'], duplicates: 1 });
  assert.equal(store.position(PARTITION).logEnd, logEnd, 'nothing written');
  assert.deepEqual(payloads(await pullNow(engine, QUEUE_INBOX)), ['first']);
});

test('the same producer id on another queue is another message', async (t) => {
  const { engine } = await startEngine(t);
  await declareQueue(engine);
  await engine.declareQueue('ex', 'other', { max_deliveries: 0, message_ttl_ms: null, max_length: null });
  await engine.publish('queue', 'ex', 'q', messages(['to q'], 'same'), 'all');
  assert.deepEqual(await engine.publish('queue', 'ex', 'other', messages(['to other'], 'same'), 'all'), { ids: ['same'], duplicates: 0 });
  assert.deepEqual(payloads(await pullNow(engine, 'q:ex/other')), ['to other']);
});

test('a retry racing its original is caught, and so is a producer id repeated in one batch', async (t) => {
  const { engine } = await startEngine(t);
  await declareQueue(engine);
  const [original, retry] = await Promise.all([
    engine.publish('queue', 'ex', 'q', messages(['original'], 'racing'), 'all'),
    engine.publish('queue', 'ex', 'q', messages(['retry'], 'racing'), 'all'),
  ]);
  assert.deepEqual([original, retry], [{ ids: ['racing'], duplicates: 0 }, { ids: ['racing'], duplicates: 1 }]);
  const batch = await engine.publish('queue', 'ex', 'q', [...messages(['x'], 'twice'), ...messages(['y'], 'twice')], 'all');
  assert.deepEqual(batch, { ids: ['twice', 'twice'], duplicates: 1 });
  assert.deepEqual(payloads(await pullNow(engine, QUEUE_INBOX)), ['original', 'x']);
});

test('past the dedup window the same producer id is a new message', async (t) => {
  const windowMs = 50;
  const { engine, store } = await startEngine(t, { dedupWindowMs: windowMs });
  await declareQueue(engine);
  await engine.publish('queue', 'ex', 'q', messages(['first'], 'p'), 'all');
  const publishedAt = store.findDedup(targetKey('queue', 'ex', 'q'), 'p')!.ts;
  await waitFor('the dedup window to pass', () => Date.now() > publishedAt + windowMs);
  assert.deepEqual(await engine.publish('queue', 'ex', 'q', messages(['second'], 'p'), 'all'), { ids: ['p'], duplicates: 0 });
  assert.equal(engine.stats(QUEUE_INBOX).depth, 2);
});

test('a full queue refuses the whole batch with queue_full until a message is settled; leased ones still count', async (t) => {
  const { engine } = await startEngine(t);
  await declareQueue(engine, { max_length: 2 });
  await publishToQueue(engine, 'a');
  await assert.rejects(publishToQueue(engine, 'b', 'c'), code('queue_full'));
  assert.equal(engine.stats(QUEUE_INBOX).depth, 1, 'no part of the batch was stored');
  await publishToQueue(engine, 'b');
  const [leased] = await pullNow(engine, QUEUE_INBOX, 1);
  await assert.rejects(engine.publish('queue', 'ex', 'q', messages(['c'], 'producer-c'), 'all'), code('queue_full'));
  await engine.ack(QUEUE_INBOX, [leased!.msg_id], USER);
  assert.deepEqual(await engine.publish('queue', 'ex', 'q', messages(['c'], 'producer-c'), 'all'), { ids: ['producer-c'], duplicates: 0 }, 'the refused producer id was not remembered');
});

test('a publish to a missing queue or topic is not found', async (t) => {
  const { engine } = await startEngine(t);
  await assert.rejects(publishToQueue(engine, 'x'), code('queue_not_found'));
  await assert.rejects(engine.publish('topic', 'ex', 't', messages(['x']), 'all'), code('topic_not_found'));
});

test('a topic publish reaches every subscription, and nothing without one is lost for a later subscriber from earliest', async (t) => {
  const { engine } = await startEngine(t);
  await engine.declareTopic('ex', 't', { retention_ms: 60_000 });
  await engine.publish('topic', 'ex', 't', messages(['before']), 'all');
  await engine.subscribe('ex', 't', 'a', 'latest');
  await engine.subscribe('ex', 't', 'b', 'latest');
  await engine.publish('topic', 'ex', 't', messages(['after']), 'all');
  await engine.subscribe('ex', 't', 'late', 'earliest');
  assert.deepEqual(payloads(await pullNow(engine, 's:ex/t/a')), ['after']);
  assert.deepEqual(payloads(await pullNow(engine, 's:ex/t/b')), ['after']);
  assert.deepEqual(payloads(await pullNow(engine, 's:ex/t/late')), ['before', 'after']);
});
