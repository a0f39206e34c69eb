/**
 * What the operations on a partition's leader share (leader-partition.ts): the inboxes they
 * name, and the leader-local delivery state, which a new leader rebuilds from the store.
 * Through PartitionEngines over a NodeStore in a temp dir and LocalCommitLogs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MomError } from '../../../../src/core/errors';
import { QUEUE_INBOX, declareQueue, payloads, publishToQueue, pullNow, startEngine, USER } from '../../../helpers/partition-engine';

const missing = (code: string, path: string) => (error: MomError) => error.code === code && error.message.includes(path);

test('an operation on an inbox that does not exist names it: a queue or a subscription', async (t) => {
  const { engine } = await startEngine(t);
  assert.throws(() => engine.stats(QUEUE_INBOX), missing('queue_not_found', 'ex/q'));
  assert.throws(() => engine.deadLetters(QUEUE_INBOX, -1, 10), missing('queue_not_found', 'ex/q'));
  await assert.rejects(pullNow(engine, QUEUE_INBOX), missing('queue_not_found', 'ex/q'));
  await assert.rejects(pullNow(engine, 's:ex/t/s'), missing('subscription_not_found', 'ex/t/s'));
  assert.throws(() => engine.inbox('s:ex/t/s'), missing('subscription_not_found', 'ex/t/s'));
});

test('a new leader of the partition counts what the store holds toward max_length, and delivers what the old one had leased', async (t) => {
  const old = await startEngine(t);
  await declareQueue(old.engine, { max_length: 2 });
  await publishToQueue(old.engine, 'a', 'b');
  const [leased] = await pullNow(old.engine, QUEUE_INBOX, 1);
  await old.engine.close();

  const { engine } = await startEngine(t, { store: old.store, epoch: 2 });
  await assert.rejects(publishToQueue(engine, 'c'), (error: MomError) => error.code === 'queue_full');
  // Leases are the old leader's memory (DESIGN §3): what it had handed out is delivered again.
  const delivered = await pullNow(engine, QUEUE_INBOX);
  assert.deepEqual(payloads(delivered), ['a', 'b']);
  assert.equal(delivered[0]!.msg_id, leased!.msg_id);
});

test('a queue deleted and declared again starts with no leases: an ack of an old delivery is unknown', async (t) => {
  const { engine } = await startEngine(t);
  await declareQueue(engine);
  await publishToQueue(engine, 'old');
  const [leased] = await pullNow(engine, QUEUE_INBOX);
  await engine.deleteQueue('ex', 'q');
  await declareQueue(engine);
  assert.deepEqual(engine.stats(QUEUE_INBOX), { depth: 0, in_flight: 0, dead_letters: 0 });
  assert.deepEqual(await engine.ack(QUEUE_INBOX, [leased!.msg_id], USER), { settled: 0, unknown: [leased!.msg_id] });
  await publishToQueue(engine, 'new');
  const [fresh] = await pullNow(engine, QUEUE_INBOX);
  assert.deepEqual([JSON.parse(fresh!.payload), fresh!.deliveries], ['new', 1]);
});
