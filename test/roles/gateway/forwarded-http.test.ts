import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isResendable, parseError } from '../../../src/roles/gateway/forwarded-http';

test('publishes, purges and redrives are unsafe to resend', () => {
  assert.equal(isResendable('POST', '/v1/exchanges/a/queues/q/messages'), false);
  assert.equal(isResendable('POST', '/v1/exchanges/a/topics/t/messages'), false);
  assert.equal(isResendable('GET', '/v1/exchanges/a/queues/q/messages'), true);
  assert.equal(isResendable('POST', '/v1/exchanges/a/queues/q/ack'), true);
  assert.equal(isResendable('PUT', '/v1/exchanges/a/queues/q'), true);
  // Done twice, a purge or a redrive would also take what arrived in between.
  assert.equal(isResendable('POST', '/v1/exchanges/a/queues/q/purge'), false);
  assert.equal(isResendable('POST', '/v1/exchanges/a/topics/t/subscriptions/s/dead-letters/redrive'), false);
  assert.equal(isResendable('DELETE', '/v1/exchanges/a/queues/q/dead-letters'), true);
  assert.equal(isResendable('GET', '/v1/exchanges/a/queues'), true);
});

test("a node's error answer is read for its code; anything else is passed on as it is", () => {
  assert.deepEqual(parseError('{"error":{"code":"not_leader","message":"m","node_location":"http://x"}}'), { code: 'not_leader', message: 'm', node_location: 'http://x' });
  assert.equal(parseError('<html>'), undefined);
  assert.equal(parseError('{"error":"text"}'), undefined);
});
