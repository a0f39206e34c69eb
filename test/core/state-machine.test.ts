/** The partition state machine's decisions, without a disk (DESIGN §3, §8). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deadReason, repairPlan, repairStep, retainedSince, settleStep } from '../../src/core/state-machine';

const nack = { outcome: 'retry', reason: 'nack' } as const;

test('an ack deletes a pending message; a settle of one not pending changes nothing', () => {
  assert.deepEqual(settleStep({ failures: 2, dead: false }, { outcome: 'ack', reason: 'nack' }, 0), { action: 'delete', state: 'gone', failures: 2 });
  assert.deepEqual(settleStep(undefined, { outcome: 'ack', reason: 'nack' }, 0), { action: 'none', state: 'gone', failures: 0 });
  assert.deepEqual(settleStep({ failures: 3, dead: true }, nack, 0), { action: 'none', state: 'dead', failures: 3 }, 'a dead letter stays one');
});

test('a failed delivery counts; the Nth with max_deliveries N dead-letters, 0 means unlimited', () => {
  assert.deepEqual(settleStep({ failures: 0, dead: false }, nack, 3), { action: 'update', state: 'ready', failures: 1, reason: null });
  assert.deepEqual(settleStep({ failures: 2, dead: false }, nack, 3), { action: 'update', state: 'dead', failures: 3, reason: 'max_deliveries' });
  assert.deepEqual(settleStep({ failures: 99, dead: false }, { outcome: 'retry', reason: 'lease_expired' }, 0), { action: 'update', state: 'ready', failures: 100, reason: null });
});

test('a dead outcome dead-letters at once with its reason', () => {
  assert.deepEqual(settleStep({ failures: 0, dead: false }, { outcome: 'dead', reason: 'rejected' }, 0), { action: 'update', state: 'dead', failures: 1, reason: 'rejected' });
  assert.deepEqual(settleStep({ failures: 0, dead: false }, { outcome: 'dead', reason: 'expired' }, 5), { action: 'update', state: 'dead', failures: 1, reason: 'expired' });
  assert.equal(deadReason('nack'), 'rejected');
  assert.equal(deadReason('lease_expired'), 'rejected');
  assert.equal(deadReason('max_deliveries'), 'max_deliveries');
});

test('a subscription from earliest gets what was published within the retention before it', () => {
  assert.equal(retainedSince(10_000, 3_000), 7_000);
});

test('purge takes ready messages but never the kept (leased) ones, and leaves dead letters', () => {
  const plan = repairPlan({ type: 'inbox.purge', inbox: 'q:e/q', keep: [7], at: 0 });
  assert.deepEqual(plan, { from: 'ready', only: null, except: [7], to: 'gone' });
  assert.equal(repairStep({ failures: 2, dead: false }, 5, plan), 'gone');
  assert.equal(repairStep({ failures: 0, dead: false }, 7, plan), undefined, 'leased on the leader: kept');
  assert.equal(repairStep({ failures: 3, dead: true }, 9, plan), undefined, 'a dead letter is not purged');
});

test('redrive starts dead letters over with no failed deliveries; deletion removes them; both may name messages', () => {
  const all = repairPlan({ type: 'dead_letters.redrive', inbox: 'q:e/q', messages: null, at: 0 });
  assert.deepEqual(repairStep({ failures: 5, dead: true }, 3, all), { failures: 0, dead: false });
  assert.equal(repairStep({ failures: 1, dead: false }, 3, all), undefined, 'a ready message is not a dead letter');
  const some = repairPlan({ type: 'dead_letters.redrive', inbox: 'q:e/q', messages: [4], at: 0 });
  assert.equal(repairStep({ failures: 5, dead: true }, 3, some), undefined, 'not named');
  assert.deepEqual(repairStep({ failures: 5, dead: true }, 4, some), { failures: 0, dead: false });
  const deletion = repairPlan({ type: 'dead_letters.delete', inbox: 'q:e/q', messages: null, at: 0 });
  assert.equal(repairStep({ failures: 1, dead: true }, 3, deletion), 'gone');
  assert.equal(repairStep({ failures: 1, dead: false }, 3, deletion), undefined);
});
