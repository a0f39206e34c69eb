import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PerUserSlots } from '../../../src/roles/node/per-user-slots';

const alice = { userId: 1, username: 'alice', admin: false, grants: [] };
const bob = { userId: 2, username: 'bob', admin: false, grants: [] };

test('each user gets `limit` slots; one more is too_many_requests; releases give them back once', () => {
  const slots = new PerUserSlots(2, 'long polls', '--max-long-polls-per-user');
  const first = slots.acquire(alice);
  const second = slots.acquire(alice);
  assert.throws(() => slots.acquire(alice), (error: unknown) => {
    const e = error as { code: string; message: string; retryable: boolean };
    assert.equal(e.code, 'too_many_requests');
    assert.match(e.message, /alice already has 2 long polls open on this node.*--max-long-polls-per-user/);
    assert.equal(e.retryable, true);
    return true;
  });
  slots.acquire(bob); // other users are not affected
  first();
  first(); // idempotent: does not free a second slot
  assert.equal(slots.count(alice.userId), 1);
  const third = slots.acquire(alice);
  assert.throws(() => slots.acquire(alice), { code: 'too_many_requests' });
  second();
  third();
  assert.equal(slots.count(alice.userId), 0);
});
