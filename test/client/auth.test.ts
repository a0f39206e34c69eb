import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renewTime, TokenManager } from '../../src/client/auth';

test('a token is renewed a tenth of its life before expiry, at most 30 s before', () => {
  const now = Date.parse('2024-01-01T00:00:00Z');
  assert.equal(renewTime('2024-01-01T00:00:10Z', now), now + 9_000);
  assert.equal(renewTime('2024-01-01T01:00:00Z', now), now + 3_600_000 - 30_000);
  assert.equal(renewTime('not a date', now), Number.POSITIVE_INFINITY);
  assert.equal(renewTime(undefined, now), Number.POSITIVE_INFINITY);
});

test('concurrent callers share one login', async () => {
  let logins = 0;
  const tokens = new TokenManager(async () => {
    logins++;
    await new Promise((resolve) => setImmediate(resolve));
    return { token: `t${logins}`, expires_at: new Date(Date.now() + 3_600_000).toISOString() };
  });
  const got = await Promise.all([tokens.get(), tokens.get(), tokens.get()]);
  assert.deepEqual(got, ['t1', 't1', 't1']);
  assert.equal(logins, 1);
  assert.equal(await tokens.get(), 't1', 'a valid token is reused');
});

test('a 401 logs in again, unless another request already replaced the rejected token', async () => {
  let logins = 0;
  const tokens = new TokenManager(async () => ({ token: `t${++logins}`, expires_at: new Date(Date.now() + 3_600_000).toISOString() }), 'initial');
  assert.equal(await tokens.get(), 'initial');
  assert.equal(await tokens.renew('initial'), true);
  assert.equal(tokens.current, 't1');
  assert.equal(await tokens.renew('initial'), true, 'already replaced');
  assert.equal(logins, 1);
  assert.equal(await tokens.renew('t1'), true);
  assert.equal(logins, 2);
});

test('an expired token is replaced before it is sent', async () => {
  let logins = 0;
  const tokens = new TokenManager(async () => ({ token: `t${++logins}`, expires_at: new Date(Date.now() - 1).toISOString() }));
  assert.equal(await tokens.get(), 't1');
  assert.equal(await tokens.get(), 't2');
});

test('without a password a 401 stands', async () => {
  const tokens = new TokenManager(undefined, 'given');
  assert.equal(tokens.canLogin, false);
  assert.equal(await tokens.get(), 'given');
  assert.equal(await tokens.renew('given'), false);
});
