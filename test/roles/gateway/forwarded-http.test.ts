import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isResendable, parseError } from '../../../src/roles/gateway/forwarded-http';

test('only publishes are unsafe to resend', () => {
  assert.equal(isResendable('POST', '/v1/exchanges/a/queues/q/messages'), false);
  assert.equal(isResendable('POST', '/v1/exchanges/a/topics/t/messages'), false);
  assert.equal(isResendable('GET', '/v1/exchanges/a/queues/q/messages'), true);
  assert.equal(isResendable('POST', '/v1/exchanges/a/queues/q/ack'), true);
  assert.equal(isResendable('PUT', '/v1/exchanges/a/queues/q'), true);
});

test("a node's error answer is read for its code; anything else is passed on as it is", () => {
  assert.deepEqual(parseError('{"error":{"code":"not_leader","message":"m","node_location":"http://x"}}'), { code: 'not_leader', message: 'm', node_location: 'http://x' });
  assert.equal(parseError('<html>'), undefined);
  assert.equal(parseError('{"error":"text"}'), undefined);
});
