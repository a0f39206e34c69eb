/** The keys and defaults of the partition state machine's commands (DESIGN §2-3), without a disk. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEFAULT_QUEUE_OPTIONS,
  DEFAULT_TOPIC_OPTIONS,
  QUEUE_INBOX_PREFIX,
  queueInboxKey,
  sameOptions,
  subscriptionInboxKey,
  targetKey,
} from '../../src/core/entries';

test('inbox keys tell queues from subscriptions, and a queue key starts with the prefix the store queries by', () => {
  assert.equal(queueInboxKey('logs', 'errors'), 'q:logs/errors');
  assert.ok(queueInboxKey('logs', 'errors').startsWith(QUEUE_INBOX_PREFIX));
  assert.equal(subscriptionInboxKey('logs', 'events', 'alice'), 's:logs/events/alice');
  assert.notEqual(queueInboxKey('a', 'b'), subscriptionInboxKey('a', 'b', ''), 'a queue and a subscription never share a key');
});

test('target keys name a queue or a topic: the same name in both kinds is two targets', () => {
  assert.equal(targetKey('queue', 'logs', 'x'), 'q:logs/x');
  assert.equal(targetKey('topic', 'logs', 'x'), 't:logs/x');
  // The queue's dedup target and its inbox key are the same string.
  assert.equal(targetKey('queue', 'logs', 'x'), queueInboxKey('logs', 'x'));
});

test('sameOptions compares every key of either side', () => {
  assert.equal(sameOptions(DEFAULT_QUEUE_OPTIONS, { max_deliveries: 0, message_ttl_ms: null, max_length: null }), true);
  assert.equal(sameOptions(DEFAULT_QUEUE_OPTIONS, { ...DEFAULT_QUEUE_OPTIONS, max_deliveries: 3 }), false);
  assert.equal(sameOptions({ a: 1 }, { a: 1, b: 2 }), false, 'a key only the second has');
  assert.equal(sameOptions({ a: 1, b: 2 }, { a: 1 }), false, 'a key only the first has');
  assert.equal(sameOptions({ a: null }, { a: undefined }), false, 'null is a value, not an absence');
});

test('defaults: unlimited queues, topics kept for 7 days (DESIGN §8)', () => {
  assert.deepEqual(DEFAULT_QUEUE_OPTIONS, { max_deliveries: 0, message_ttl_ms: null, max_length: null });
  assert.equal(DEFAULT_TOPIC_OPTIONS.retention_ms, 7 * 24 * 60 * 60 * 1000);
});
