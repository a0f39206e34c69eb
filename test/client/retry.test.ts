import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, delay, isRetryableStatus, retryAfterMs } from '../../src/client/retry';

test('Retry-After is read as seconds or as an HTTP date', () => {
  assert.equal(retryAfterMs('1'), 1000);
  assert.equal(retryAfterMs('0.5'), 500);
  assert.equal(retryAfterMs(['2']), 2000);
  const now = Date.parse('2024-01-01T00:00:00Z');
  assert.equal(retryAfterMs('Mon, 01 Jan 2024 00:00:03 GMT', now), 3000);
  assert.equal(retryAfterMs(undefined), undefined);
  assert.equal(retryAfterMs('soon'), undefined);
});

test('backoff doubles from the base, never past the maximum', () => {
  const policy = { baseDelayMs: 50, maxDelayMs: 1000 };
  assert.equal(backoffDelay(0, policy, () => 1), 50);
  assert.equal(backoffDelay(0, policy, () => 0), 25);
  assert.equal(backoffDelay(3, policy, () => 1), 400);
  assert.equal(backoffDelay(10, policy, () => 1), 1000);
  assert.equal(backoffDelay(1000, policy, () => 1), 1000);
});

test('only "not now" statuses are retryable', () => {
  for (const status of [421, 429, 502, 503, 504, 507]) assert.equal(isRetryableStatus(status), true, String(status));
  for (const status of [400, 401, 403, 404, 409, 413, 500]) assert.equal(isRetryableStatus(status), false, String(status));
});

test('delay rejects with the reason when its signal aborts', async () => {
  const controller = new AbortController();
  const waiting = delay(60_000, controller.signal);
  controller.abort(new Error('stop'));
  await assert.rejects(waiting, /stop/);
  await assert.rejects(delay(10, AbortSignal.abort(new Error('already'))), /already/);
});
