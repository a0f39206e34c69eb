/**
 * How deliveries end on a partition's leader (DESIGN §2, §8): acks, nacks, max_deliveries,
 * expired leases, and what a settle the log cannot record leaves behind, through a
 * PartitionEngine over a NodeStore in a temp dir and a LocalCommitLog.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LogEntry } from '../../../../src/core/entries';
import { MomError } from '../../../../src/core/errors';
import type { AckMode, AppliedListener, CommitLog } from '../../../../src/log/commit-log';
import type { LocalCommitLog } from '../../../../src/log/local-commit-log';
import { QUEUE_INBOX, declareQueue, payloads, publishToQueue, pullNow, startEngine, USER } from '../../../helpers/partition-engine';
import { waitFor } from '../../../helpers/wait';

const code = (expected: string) => (error: MomError) => error.code === expected;

/** The engine's LocalCommitLog, refusing every commit while `refusing` (a full disk answers so). */
class RefusingLog implements CommitLog {
  refusing = false;
  constructor(private readonly inner: LocalCommitLog) {}
  get partition(): number {
    return this.inner.partition;
  }
  get epoch(): number {
    return this.inner.epoch;
  }
  start(): Promise<void> {
    return this.inner.start();
  }
  commit(entries: LogEntry[], acks: AckMode): Promise<number> {
    if (this.refusing) return Promise.reject(new MomError('insufficient_storage', 'the test refuses this write'));
    return this.inner.commit(entries, acks);
  }
  onApplied(listener: AppliedListener): void {
    this.inner.onApplied(listener);
  }
  notReady(): MomError | undefined {
    return this.inner.notReady();
  }
  compactionFloor(): number {
    return this.inner.compactionFloor();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

test('an ack settles leased messages; ids unknown or no longer leased are listed, not errors', async (t) => {
  const { engine } = await startEngine(t);
  await declareQueue(engine);
  await publishToQueue(engine, 'a', 'b');
  const [a] = await pullNow(engine, QUEUE_INBOX, 1);
  assert.deepEqual(await engine.ack(QUEUE_INBOX, [a!.msg_id, 'no-such-id'], USER), { settled: 1, unknown: ['no-such-id'] });
  assert.deepEqual(await engine.ack(QUEUE_INBOX, [a!.msg_id], USER), { settled: 0, unknown: [a!.msg_id] }, 'acked already');
  assert.deepEqual(payloads(await pullNow(engine, QUEUE_INBOX)), ['b'], 'the acked message is not delivered again');
  assert.deepEqual(engine.stats(QUEUE_INBOX), { depth: 0, in_flight: 1, dead_letters: 0 });
});

test('a nack with requeue makes the message deliverable again with one more delivery; without, a dead letter', async (t) => {
  const { engine } = await startEngine(t);
  await declareQueue(engine);
  await publishToQueue(engine, 'again', 'rejected');
  const [again, rejected] = await pullNow(engine, QUEUE_INBOX);
  assert.deepEqual(await engine.nack(QUEUE_INBOX, [again!.msg_id], true, USER), { settled: 1, unknown: [] });
  assert.deepEqual(await engine.nack(QUEUE_INBOX, [rejected!.msg_id], false, USER), { settled: 1, unknown: [] });
  const redelivered = await pullNow(engine, QUEUE_INBOX);
  assert.deepEqual(payloads(redelivered), ['again']);
  assert.equal(redelivered[0]!.deliveries, 2);
  assert.deepEqual(engine.deadLetters(QUEUE_INBOX, -1, 10).map((row) => [JSON.parse(row.payload), row.dead_reason, row.failures]), [['rejected', 'rejected', 1]]);
});

test('with max_deliveries 2 the second failed delivery dead-letters the message', async (t) => {
  const { engine } = await startEngine(t);
  await declareQueue(engine, { max_deliveries: 2 });
  await publishToQueue(engine, 'poison');
  for (const expected of [1, 2]) {
    const [message] = await pullNow(engine, QUEUE_INBOX);
    assert.equal(message!.deliveries, expected);
    await engine.nack(QUEUE_INBOX, [message!.msg_id], true, USER);
  }
  assert.deepEqual(await pullNow(engine, QUEUE_INBOX), []);
  assert.deepEqual(engine.deadLetters(QUEUE_INBOX, -1, 10).map((row) => row.dead_reason), ['max_deliveries']);
});

test('an expired lease comes back with one more delivery; its late ack is unknown', { timeout: 30_000 }, async (t) => {
  const { engine } = await startEngine(t);
  await declareQueue(engine);
  await publishToQueue(engine, 'slow');
  const [leased] = await engine.pull(QUEUE_INBOX, { max: 1, waitMs: 0, leaseMs: 1_000, user: USER });
  engine.sweepLeases(Date.now() + 60_000);
  assert.deepEqual(await engine.ack(QUEUE_INBOX, [leased!.msg_id], USER), { settled: 0, unknown: [leased!.msg_id] });
  // Deliverable again once the expiry is recorded: a long poll is woken by it.
  const [again] = await engine.pull(QUEUE_INBOX, { max: 1, waitMs: 60_000, leaseMs: 60_000, user: USER });
  assert.deepEqual([again!.msg_id, again!.deliveries], [leased!.msg_id, 2]);
});

test('a sweep leaves leases that have not expired', async (t) => {
  const { engine } = await startEngine(t);
  await declareQueue(engine);
  await publishToQueue(engine, 'kept');
  const [leased] = await engine.pull(QUEUE_INBOX, { max: 1, waitMs: 0, leaseMs: 60_000, user: USER });
  engine.sweepLeases(Date.now());
  assert.deepEqual(engine.stats(QUEUE_INBOX), { depth: 0, in_flight: 1, dead_letters: 0 });
  assert.deepEqual(await engine.ack(QUEUE_INBOX, [leased!.msg_id], USER), { settled: 1, unknown: [] });
});

test('an ack the log cannot record leaves the lease with its consumer; a retried ack settles it', async (t) => {
  let log: RefusingLog | undefined;
  const { engine } = await startEngine(t, { wrapLog: (inner) => (log = new RefusingLog(inner)) });
  await declareQueue(engine);
  await publishToQueue(engine, 'm');
  const [leased] = await pullNow(engine, QUEUE_INBOX);
  log!.refusing = true;
  await assert.rejects(engine.ack(QUEUE_INBOX, [leased!.msg_id], USER), code('insufficient_storage'));
  assert.deepEqual(engine.stats(QUEUE_INBOX), { depth: 0, in_flight: 1, dead_letters: 0 });
  assert.deepEqual(await pullNow(engine, QUEUE_INBOX), [], 'not handed out again');
  log!.refusing = false;
  assert.deepEqual(await engine.ack(QUEUE_INBOX, [leased!.msg_id], USER), { settled: 1, unknown: [] });
  assert.deepEqual(engine.stats(QUEUE_INBOX), { depth: 0, in_flight: 0, dead_letters: 0 });
});

test('an expiry the log cannot record keeps the message out until a later sweep records it', { timeout: 30_000 }, async (t) => {
  let log: RefusingLog | undefined;
  const { engine } = await startEngine(t, { wrapLog: (inner) => (log = new RefusingLog(inner)) });
  await declareQueue(engine);
  await publishToQueue(engine, 'm');
  const [leased] = await pullNow(engine, QUEUE_INBOX);
  log!.refusing = true;
  engine.sweepLeases(Date.now() + 120_000);
  // The failed record puts the lease back (for a short pause), so that the delivery still counts.
  await waitFor('the lease to be put back', () => engine.stats(QUEUE_INBOX).in_flight === 1);
  assert.deepEqual(await pullNow(engine, QUEUE_INBOX), []);
  log!.refusing = false;
  engine.sweepLeases(Date.now() + 120_000);
  const [again] = await engine.pull(QUEUE_INBOX, { max: 1, waitMs: 60_000, leaseMs: 60_000, user: USER });
  assert.deepEqual([again!.msg_id, again!.deliveries], [leased!.msg_id, 2]);
});

test('settling in a missing inbox is not found', async (t) => {
  const { engine } = await startEngine(t);
  await assert.rejects(engine.ack(QUEUE_INBOX, ['x'], USER), code('queue_not_found'));
  await assert.rejects(engine.nack('s:ex/t/s', ['x'], true, USER), code('subscription_not_found'));
});
