import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoginThrottle } from '../../../src/roles/auth/login-throttle';

function waitOf(throttle: LoginThrottle, address: string, user: string | undefined): number {
  try {
    throttle.check(address, user);
    return 0;
  } catch (error) {
    assert.equal((error as { code: string }).code, 'too_many_requests');
    return ((error as { details: { retry_after_ms: number } }).details.retry_after_ms) / 1000;
  }
}

test('per (address, user): 5 free failures, then waits of 1, 2, 4, 8 s and never more than 15 s', () => {
  let now = 0;
  const throttle = new LoginThrottle({}, () => now);
  const waits: number[] = [];
  for (let i = 0; i < 10; i++) {
    assert.equal(waitOf(throttle, 'a', 'admin'), 0, `attempt ${i + 1} may try`);
    throttle.fail('a', 'admin');
    const wait = waitOf(throttle, 'a', 'admin');
    waits.push(wait);
    now += wait * 1000; // the guesser waits exactly as long as told
  }
  assert.deepEqual(waits, [0, 0, 0, 0, 1, 2, 4, 8, 15, 15]);
  // Retry-After is the real wait, counting down.
  throttle.fail('a', 'admin');
  now += 10_400;
  assert.equal(waitOf(throttle, 'a', 'admin'), 5);
  now += 4_600;
  assert.equal(waitOf(throttle, 'a', 'admin'), 0, 'the owner is never held back longer than 15 s after the last failure');
});

test('failures from one address never hold back the same user at another address', () => {
  let now = 0;
  const throttle = new LoginThrottle({}, () => now);
  for (let i = 0; i < 8; i++) {
    throttle.fail('attacker', 'admin');
    now += 20_000;
  }
  throttle.fail('attacker', 'admin');
  assert.ok(waitOf(throttle, 'attacker', 'admin') > 0);
  assert.equal(waitOf(throttle, 'owner', 'admin'), 0);
});

test('per address: a spray over many names waits after 30 failures', () => {
  let now = 0;
  const throttle = new LoginThrottle({}, () => now);
  for (let i = 0; i < 29; i++) throttle.fail('sprayer', `user-${i}`);
  assert.equal(waitOf(throttle, 'sprayer', 'someone-else'), 0);
  throttle.fail('sprayer', undefined); // a name that cannot exist counts per address too
  assert.equal(waitOf(throttle, 'sprayer', 'someone-else'), 1);
  assert.equal(waitOf(throttle, 'sprayer', undefined), 1);
  assert.equal(waitOf(throttle, 'elsewhere', 'someone-else'), 0);
});

test('a success clears its (address, user) but not the address; 15 minutes without failures clear both', () => {
  let now = 0;
  const throttle = new LoginThrottle({ perAddress: { free: 6, firstDelayMs: 1_000, maxDelayMs: 15_000 } }, () => now);
  for (let i = 0; i < 4; i++) throttle.fail('a', 'alice');
  throttle.succeed('a', 'alice');
  for (let i = 0; i < 4; i++) throttle.fail('a', 'alice');
  assert.equal(waitOf(throttle, 'a', 'alice'), 4, 'the address has 8 failures (free 6: waits 1, 2, 4 s); alice only 4 since her success (free 5)');
  now += 15 * 60_000;
  assert.equal(waitOf(throttle, 'a', 'alice'), 0);
  throttle.fail('a', 'alice');
  assert.equal(waitOf(throttle, 'a', 'alice'), 0, 'both counts started again');
});

test('the tables are bounded: past maxTracked the oldest keys go', () => {
  let now = 0;
  const throttle = new LoginThrottle({ maxTracked: 100, perAddress: { free: 1, firstDelayMs: 1_000, maxDelayMs: 15_000 } }, () => now);
  for (let i = 0; i < 1_000; i++) {
    throttle.fail(`10.0.${i >> 8}.${i & 255}`, undefined);
    now += 1;
  }
  assert.equal(waitOf(throttle, '10.0.0.0', undefined), 0, 'the first address was forgotten');
  assert.equal(waitOf(throttle, '10.0.3.231', undefined), 1, 'the last one is remembered');
});
