/**
 * Declarations and deletions on a partition's leader (DESIGN §8): idempotent with the same
 * options, a conflict with others, not found when missing, through a PartitionEngine over a
 * NodeStore in a temp dir and a LocalCommitLog.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_QUEUE_OPTIONS } from '../../../../src/core/entries';
import type { MomError } from '../../../../src/core/errors';
import { PARTITION, QUEUE_INBOX, declareQueue, messages, payloads, publishToQueue, pullNow, startEngine } from '../../../helpers/partition-engine';

const code = (expected: string) => (error: MomError) => error.code === expected;

test('a queue is created once; declared again with the same options nothing changes, with others it is a conflict', async (t) => {
  const { engine, store } = await startEngine(t);
  const options = { ...DEFAULT_QUEUE_OPTIONS, max_deliveries: 5 };
  assert.equal(await engine.declareQueue('ex', 'q', options), true);
  const logEnd = store.position(PARTITION).logEnd;
  assert.equal(await engine.declareQueue('ex', 'q', { ...options }), false);
  assert.equal(store.position(PARTITION).logEnd, logEnd, 'nothing written');
  await assert.rejects(engine.declareQueue('ex', 'q', DEFAULT_QUEUE_OPTIONS), code('conflict'));
  assert.deepEqual(engine.inbox(QUEUE_INBOX).options, options, 'the queue keeps its options');
});

test('a topic is created once; declared again with another retention it is a conflict', async (t) => {
  const { engine } = await startEngine(t);
  assert.equal(await engine.declareTopic('ex', 't', { retention_ms: 1_000 }), true);
  assert.equal(await engine.declareTopic('ex', 't', { retention_ms: 1_000 }), false);
  await assert.rejects(engine.declareTopic('ex', 't', { retention_ms: 2_000 }), code('conflict'));
});

test('a subscription needs its topic; subscribing again keeps the first one and its start point', async (t) => {
  const { engine } = await startEngine(t);
  await assert.rejects(engine.subscribe('ex', 't', 's', 'earliest'), code('topic_not_found'));
  await engine.declareTopic('ex', 't', { retention_ms: 60_000 });
  await engine.publish('topic', 'ex', 't', messages(['retained']), 'all');
  assert.equal(await engine.subscribe('ex', 't', 's', 'earliest'), true);
  assert.equal(await engine.subscribe('ex', 't', 's', 'latest'), false);
  assert.deepEqual(payloads(await pullNow(engine, 's:ex/t/s')), ['retained'], 'still the subscription from earliest');
});

test('deleting what does not exist is not found', async (t) => {
  const { engine } = await startEngine(t);
  await assert.rejects(engine.deleteQueue('ex', 'q'), code('queue_not_found'));
  await assert.rejects(engine.deleteTopic('ex', 't'), code('topic_not_found'));
  await engine.declareTopic('ex', 't', { retention_ms: 60_000 });
  await assert.rejects(engine.unsubscribe('ex', 't', 's'), code('subscription_not_found'));
});

test('a deleted queue is gone with its messages; declared again, it starts empty', async (t) => {
  const { engine } = await startEngine(t);
  await declareQueue(engine);
  await publishToQueue(engine, 'old');
  await engine.deleteQueue('ex', 'q');
  await assert.rejects(pullNow(engine, QUEUE_INBOX), code('queue_not_found'));
  await declareQueue(engine);
  assert.deepEqual(engine.stats(QUEUE_INBOX), { depth: 0, in_flight: 0, dead_letters: 0 });
  assert.deepEqual(await pullNow(engine, QUEUE_INBOX), []);
});

test('deleting a topic deletes its subscriptions; unsubscribing deletes only that one', async (t) => {
  const { engine } = await startEngine(t);
  await engine.declareTopic('ex', 't', { retention_ms: 60_000 });
  await engine.subscribe('ex', 't', 'a', 'latest');
  await engine.subscribe('ex', 't', 'b', 'latest');
  await engine.unsubscribe('ex', 't', 'a');
  assert.throws(() => engine.stats('s:ex/t/a'), code('subscription_not_found'));
  assert.deepEqual(engine.stats('s:ex/t/b'), { depth: 0, in_flight: 0, dead_letters: 0 });
  await engine.deleteTopic('ex', 't');
  assert.throws(() => engine.stats('s:ex/t/b'), code('subscription_not_found'));
  await assert.rejects(engine.publish('topic', 'ex', 't', messages(['x']), 'all'), code('topic_not_found'));
});

test("purging an exchange drops its queues and topics here, not another exchange's; purging nothing writes nothing", async (t) => {
  const { engine, store } = await startEngine(t);
  await declareQueue(engine);
  await engine.declareTopic('ex', 't', { retention_ms: 60_000 });
  await engine.subscribe('ex', 't', 's', 'latest');
  await engine.declareQueue('other', 'q', DEFAULT_QUEUE_OPTIONS);
  await engine.purgeExchange('ex');
  assert.throws(() => engine.stats(QUEUE_INBOX), code('queue_not_found'));
  assert.throws(() => engine.stats('s:ex/t/s'), code('subscription_not_found'));
  assert.deepEqual(engine.stats('q:other/q'), { depth: 0, in_flight: 0, dead_letters: 0 });
  const logEnd = store.position(PARTITION).logEnd;
  await engine.purgeExchange('ex');
  await engine.purgeExchange('never-declared');
  assert.equal(store.position(PARTITION).logEnd, logEnd);
});
