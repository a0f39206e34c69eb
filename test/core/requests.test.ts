import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePublishBody, parseQueueOptions, parseSettleBody, parseSubscriptionStart, parseTopicOptions } from '../../src/core/requests';

const code = (expected: string) => (error: { code?: string }) => error.code === expected;

test('publish body: single message, batch, ids and headers serialized once', () => {
  assert.deepEqual(parsePublishBody({ payload: { a: 1 } }), [{ payload: '{"a":1}', headers: undefined, producerId: undefined }]);
  assert.deepEqual(parsePublishBody({ messages: [{ payload: 'x', id: 'm1', headers: { k: 'v' } }, { payload: null }] }), [
    { payload: '"x"', headers: '{"k":"v"}', producerId: 'm1' },
    { payload: 'null', headers: undefined, producerId: undefined },
  ]);
});

test('publish body: missing payload, unknown fields, empty and oversized batches are 400', () => {
  assert.throws(() => parsePublishBody({}), code('bad_request'));
  assert.throws(() => parsePublishBody(undefined), code('bad_request'));
  assert.throws(() => parsePublishBody({ payload: 1, extra: true }), code('bad_request'));
  assert.throws(() => parsePublishBody({ messages: [] }), code('bad_request'));
  assert.throws(() => parsePublishBody({ messages: Array.from({ length: 1001 }, () => ({ payload: 1 })) }), code('bad_request'));
  assert.throws(() => parsePublishBody({ payload: 1, headers: [1] }), code('bad_request'));
  assert.throws(() => parsePublishBody({ payload: 1, id: 7 }), code('bad_request'));
});

test('queue and topic options: defaults, bounds, unknown keys', () => {
  assert.deepEqual(parseQueueOptions(undefined), { max_deliveries: 0, message_ttl_ms: null, max_length: null });
  assert.deepEqual(parseQueueOptions({ max_deliveries: 3 }), { max_deliveries: 3, message_ttl_ms: null, max_length: null });
  assert.throws(() => parseQueueOptions({ max_deliveries: -1 }), code('bad_request'));
  assert.throws(() => parseQueueOptions({ max_deliveries: 1.5 }), code('bad_request'));
  assert.throws(() => parseQueueOptions({ nope: 1 }), code('bad_request'));
  assert.equal(parseTopicOptions({}).retention_ms, 7 * 24 * 3600 * 1000);
  assert.throws(() => parseTopicOptions({ retention_ms: 'long' }), code('bad_request'));
});

test('subscription start and settle bodies', () => {
  assert.equal(parseSubscriptionStart(undefined), 'latest');
  assert.equal(parseSubscriptionStart({ from: 'earliest' }), 'earliest');
  assert.throws(() => parseSubscriptionStart({ from: 'yesterday' }), code('bad_request'));
  assert.deepEqual(parseSettleBody({ ids: ['a'] }, false), { ids: ['a'], requeue: true });
  assert.deepEqual(parseSettleBody({ ids: ['a'], requeue: false }, true), { ids: ['a'], requeue: false });
  assert.throws(() => parseSettleBody({ ids: [1] }, false), code('bad_request'));
  assert.throws(() => parseSettleBody({ ids: ['a'], requeue: false }, false), code('bad_request'));
});
