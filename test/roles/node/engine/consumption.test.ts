/**
 * Handing messages out on a partition's leader (DESIGN §2, §8): leases in delivery order,
 * long polls, TTL, stats, through a PartitionEngine over a NodeStore in a temp dir and a
 * LocalCommitLog.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MomError } from '../../../../src/core/errors';
import { QUEUE_INBOX, declareQueue, payloads, publishToQueue, pullNow, startEngine, USER } from '../../../helpers/partition-engine';
import { waitFor } from '../../../helpers/wait';

const code = (expected: string) => (error: MomError) => error.code === expected;

test('a pull leases at most max messages in publish order; a leased message goes to no other pull', async (t) => {
  const { engine } = await startEngine(t);
  await declareQueue(engine);
  await publishToQueue(engine, 'm0', 'm1', 'm2', 'm3', 'm4');
  const first = await pullNow(engine, QUEUE_INBOX, 2);
  assert.deepEqual(payloads(first), ['m0', 'm1']);
  assert.deepEqual(first.map((m) => m.deliveries), [1, 1]);
  assert.deepEqual(payloads(await pullNow(engine, QUEUE_INBOX)), ['m2', 'm3', 'm4']);
  assert.deepEqual(await pullNow(engine, QUEUE_INBOX), []);
  assert.deepEqual(engine.stats(QUEUE_INBOX), { depth: 0, in_flight: 5, dead_letters: 0 });
});

test('redeliveries come first, oldest first, then first deliveries', async (t) => {
  const { engine } = await startEngine(t);
  await declareQueue(engine);
  await publishToQueue(engine, 'm0', 'm1', 'm2', 'm3');
  const leased = await pullNow(engine, QUEUE_INBOX);
  await engine.nack(QUEUE_INBOX, [leased[2]!.msg_id], true, USER);
  await engine.nack(QUEUE_INBOX, [leased[0]!.msg_id], true, USER);
  await publishToQueue(engine, 'm4');
  const next = await pullNow(engine, QUEUE_INBOX);
  assert.deepEqual(payloads(next), ['m0', 'm2', 'm4']);
  assert.deepEqual(next.map((m) => m.deliveries), [2, 2, 1]);
});

test('a long poll waits for a publish and answers with it', { timeout: 30_000 }, async (t) => {
  const { engine } = await startEngine(t);
  await declareQueue(engine);
  // The poll is waiting once pull() returns its promise: nothing is deliverable yet.
  const poll = engine.pull(QUEUE_INBOX, { max: 10, waitMs: 60_000, leaseMs: 60_000, user: USER });
  await publishToQueue(engine, 'awaited');
  assert.deepEqual(payloads(await poll), ['awaited']);
});

test('a long poll with nothing to deliver answers empty when its wait ends', async (t) => {
  const { engine } = await startEngine(t);
  await declareQueue(engine);
  const started = Date.now();
  assert.deepEqual(await engine.pull(QUEUE_INBOX, { max: 10, waitMs: 50, leaseMs: 60_000, user: USER }), []);
  assert.ok(Date.now() - started >= 40, 'it waited (timers may fire a millisecond early)');
});

test('an aborted long poll answers empty at once', { timeout: 30_000 }, async (t) => {
  const { engine } = await startEngine(t);
  await declareQueue(engine);
  const abort = new AbortController();
  const poll = engine.pull(QUEUE_INBOX, { max: 10, waitMs: 600_000, leaseMs: 60_000, signal: abort.signal, user: USER });
  abort.abort();
  assert.deepEqual(await poll, []);
  await publishToQueue(engine, 'later');
  assert.deepEqual(payloads(await pullNow(engine, QUEUE_INBOX)), ['later'], 'the aborted poll took nothing');
});

test('a long poll on a queue deleted meanwhile fails with queue_not_found', { timeout: 30_000 }, async (t) => {
  const { engine } = await startEngine(t);
  await declareQueue(engine);
  const poll = engine.pull(QUEUE_INBOX, { max: 10, waitMs: 600_000, leaseMs: 60_000, user: USER });
  // The poll fails as soon as the deletion commits, before its fsync answers deleteQueue.
  const failed = assert.rejects(poll, code('queue_not_found'));
  await engine.deleteQueue('ex', 'q');
  await failed;
});

test("messages past the queue's TTL are dead-lettered as expired instead of delivered", async (t) => {
  const ttlMs = 20;
  const { engine } = await startEngine(t);
  await declareQueue(engine, { message_ttl_ms: ttlMs });
  await publishToQueue(engine, 'stale');
  const publishedBy = Date.now();
  await waitFor('the message to be past its TTL', () => Date.now() > publishedBy + ttlMs);
  assert.deepEqual(await pullNow(engine, QUEUE_INBOX), []);
  const [dead] = await waitFor('the expired message among the dead letters', () => {
    const rows = engine.deadLetters(QUEUE_INBOX, -1, 10);
    return rows.length > 0 && rows;
  });
  assert.deepEqual([JSON.parse(dead!.payload), dead!.dead_reason], ['stale', 'expired']);
  assert.deepEqual(engine.stats(QUEUE_INBOX), { depth: 0, in_flight: 0, dead_letters: 1 });
});

test('stats: depth is what is ready and not leased, in_flight what is leased, dead_letters what was rejected', async (t) => {
  const { engine } = await startEngine(t);
  await declareQueue(engine);
  await publishToQueue(engine, 'a', 'b', 'c', 'd');
  const [a, b] = await pullNow(engine, QUEUE_INBOX, 2);
  await engine.nack(QUEUE_INBOX, [b!.msg_id], false, USER);
  assert.deepEqual(engine.stats(QUEUE_INBOX), { depth: 2, in_flight: 1, dead_letters: 1 });
  await engine.ack(QUEUE_INBOX, [a!.msg_id], USER);
  assert.deepEqual(engine.stats(QUEUE_INBOX), { depth: 2, in_flight: 0, dead_letters: 1 });
  assert.deepEqual(engine.deadLetters(QUEUE_INBOX, -1, 10).map((row) => [JSON.parse(row.payload), row.dead_reason]), [['b', 'rejected']]);
});
