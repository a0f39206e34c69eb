/**
 * The partition engine's lifecycle on its leader: a shutdown that drains requests answers
 * long polls at once, and a closed engine refuses work with a retryable error. Over a
 * NodeStore in a temp dir and a LocalCommitLog.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MomError } from '../../../../src/core/errors';
import { QUEUE_INBOX, declareQueue, messages, publishToQueue, pullNow, startEngine, USER } from '../../../helpers/partition-engine';

const unavailable = (error: MomError) => error.code === 'unavailable' && error.retryable;
const longPoll = { max: 10, waitMs: 600_000, leaseMs: 60_000, user: USER };

test('drain answers every waiting long poll empty, and later long polls answer at once', { timeout: 30_000 }, async (t) => {
  const { engine } = await startEngine(t);
  await declareQueue(engine);
  await engine.declareTopic('ex', 't', { retention_ms: 60_000 });
  await engine.subscribe('ex', 't', 's', 'latest');
  const polls = [engine.pull(QUEUE_INBOX, longPoll), engine.pull('s:ex/t/s', longPoll)];
  engine.drain(new MomError('unavailable', 'shutting down'));
  assert.deepEqual(await Promise.all(polls), [[], []]);
  assert.deepEqual(await engine.pull(QUEUE_INBOX, longPoll), [], 'draining: no new wait');
  // Still leading: what is there is delivered.
  await publishToQueue(engine, 'm');
  assert.equal((await pullNow(engine, QUEUE_INBOX)).length, 1);
});

test('close refuses later writes as unavailable, and can be called again', async (t) => {
  const { engine } = await startEngine(t);
  await declareQueue(engine);
  await engine.close();
  await assert.rejects(engine.publish('queue', 'ex', 'q', messages(['late']), 'all'), unavailable);
  await assert.rejects(engine.declareQueue('ex', 'other', { max_deliveries: 0, message_ttl_ms: null, max_length: null }), unavailable);
  await engine.close();
});

test(
  'close answers a waiting long poll empty (PartitionEngine.close: "they answer empty")',
  {
    timeout: 30_000,
  },
  async (t) => {
    const { engine } = await startEngine(t);
    await declareQueue(engine);
    const poll = engine.pull(QUEUE_INBOX, longPoll);
    await engine.close();
    assert.deepEqual(await poll, []);
  },
);

test(
  'after close, pulls and settles are refused as unavailable too (src/runtime/lifecycle.ts: new work fails with closedError)',
  {
  },
  async (t) => {
    const { engine } = await startEngine(t);
    await declareQueue(engine);
    await publishToQueue(engine, 'm');
    const [leased] = await pullNow(engine, QUEUE_INBOX);
    await publishToQueue(engine, 'n');
    await engine.close();
    await assert.rejects(pullNow(engine, QUEUE_INBOX), unavailable);
    await assert.rejects(engine.nack(QUEUE_INBOX, [leased!.msg_id], true, USER), unavailable);
  },
);
