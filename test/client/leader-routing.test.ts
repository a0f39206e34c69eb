/** The SDK's leader-direct routing, without a server: which paths it routes, and the hash. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect } from '../../src/client';
import { partitionKeyOf, partitionOfName } from '../../src/client/leader-routing';
import { partitionOf } from '../../src/core/hash';

test("the SDK's partition of a name is the server's", () => {
  for (const [exchange, name] of [['shop', 'orders'], ['a b', '€uro'], ['x', 'y'.repeat(300)], ['logs', 'jobs-high']] as const) {
    for (const count of [1, 3, 8, 64]) assert.equal(partitionOfName(exchange, name, count), partitionOf(exchange, name, count), `${exchange}/${name} of ${count}`);
  }
});

test('paths on one queue, topic or subscription are routed by exchange and name; others are not', () => {
  assert.deepEqual(partitionKeyOf('/v1/exchanges/shop/queues/orders/messages?wait_ms=100'), { exchange: 'shop', name: 'orders' });
  assert.deepEqual(partitionKeyOf('/v1/exchanges/a%20b/topics/%E2%82%AC/subscriptions/s/stream'), { exchange: 'a b', name: '€' });
  assert.deepEqual(partitionKeyOf('/v1/exchanges/shop/queues/orders'), { exchange: 'shop', name: 'orders' });
  for (const path of ['/v1/exchanges/shop/queues', '/v1/exchanges/shop', '/v1/exchanges', '/auth', '/health', '/v1/users', '/v1/exchanges/shop/other/x', '/v1/exchanges/%E2%82/queues/q']) {
    assert.equal(partitionKeyOf(path), undefined, path);
  }
});

test('routing takes gateway or leader; anything else is refused before a request is made', async () => {
  await assert.rejects(
    connect({ url: 'http://127.0.0.1:9', routing: 'nearest' as 'leader' }),
    (error: { code?: string; message?: string }) => error.code === 'invalid_argument' && /routing/.test(error.message ?? ''),
  );
});
