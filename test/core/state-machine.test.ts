/** The partition state machine's decisions, without a disk (DESIGN §3, §8). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deadReason, retainedSince, settleStep } from '../../src/core/state-machine';

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
