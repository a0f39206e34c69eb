/** What an HTTP answer means to the SDK, without a server. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorFromResponse, leaderCouldNotServe, mayRetry, parseBody, retryAfterOf } from '../../src/client/answers';
import type { ApiRequest } from '../../src/client/context';
import { MomClientError } from '../../src/client/errors';

const publish: ApiRequest = { method: 'POST', path: '/v1/exchanges/e/queues/q/messages', idempotent: false };
const pull: ApiRequest = { method: 'GET', path: '/v1/exchanges/e/queues/q/messages', idempotent: true };

test('an error answer becomes a MomClientError with its code, details and Retry-After', () => {
  const error = errorFromResponse({ status: 503, headers: { 'retry-after': '2' }, text: '{"error":{"code":"not_enough_replicas","message":"ISR too small","isr":1}}' }, publish, publish.path);
  assert.equal(error.code, 'not_enough_replicas');
  assert.equal(error.message, 'ISR too small');
  assert.equal(error.status, 503);
  assert.equal(error.retryable, true);
  assert.equal(retryAfterOf(error), 2_000);
  const odd = errorFromResponse({ status: 502, headers: {}, text: '<html>bad gateway</html>' }, pull, pull.path);
  assert.equal(odd.code, 'bad_response');
  assert.match(odd.message, /answered 502: <html>bad gateway/);
});

test('a body parses as JSON unless the content type says otherwise; invalid JSON is bad_response', () => {
  assert.deepEqual(parseBody({ status: 200, headers: { 'content-type': 'application/json' }, text: '{"a":1}' }, pull, pull.path), { a: 1 });
  assert.equal(parseBody({ status: 200, headers: { 'content-type': 'text/plain' }, text: 'ok' }, pull, pull.path), 'ok');
  assert.equal(parseBody({ status: 204, headers: {}, text: '' }, pull, pull.path), undefined);
  assert.throws(() => parseBody({ status: 200, headers: { 'content-type': 'application/json' }, text: '{' }, pull, pull.path), (e: MomClientError) => e.code === 'bad_response');
});

test('what may be sent again, and what goes to the gateway instead of a leader', () => {
  const unavailable = new MomClientError('unavailable', 'x', { status: 503, retryable: true });
  const notLeader = new MomClientError('not_leader', 'x', { status: 421, retryable: true });
  const refused = new MomClientError('forbidden', 'x', { status: 403, retryable: false });
  assert.equal(mayRetry(pull, unavailable), true, 'an idempotent request on a retryable failure');
  assert.equal(mayRetry(publish, unavailable), false, 'a publish without ids may have been stored');
  assert.equal(mayRetry(publish, notLeader), true, '421: refused before any work');
  assert.equal(mayRetry(pull, refused), false);
  assert.equal(leaderCouldNotServe(notLeader), true);
  assert.equal(leaderCouldNotServe(unavailable), true);
  assert.equal(leaderCouldNotServe(refused), false);
  assert.equal(leaderCouldNotServe(new MomClientError('connection_failed', 'x', { retryable: true })), true, 'unreachable');
});
