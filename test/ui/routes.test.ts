import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashOf, inboxPath, parseHash, type View } from '../../src/ui/routes';

test('every view survives a round trip through its address, names with odd characters included', () => {
  const views: View[] = [
    { name: 'overview' },
    { name: 'users' },
    { name: 'exchange', exchange: 'shop' },
    { name: 'queue', exchange: 'shop', queue: 'orders.v2' },
    { name: 'subscription', exchange: 'a-b', topic: 'news', subscription: '__proto__' },
    { name: 'queue', exchange: 'x', queue: 'with space/and#hash' },
  ];
  for (const view of views) assert.deepEqual(parseHash(hashOf(view)), view);
});

test('empty and unknown addresses', () => {
  assert.deepEqual(parseHash(''), { name: 'overview' });
  assert.deepEqual(parseHash('#'), { name: 'overview' });
  assert.deepEqual(parseHash('#/'), { name: 'overview' });
  assert.equal(parseHash('#/exchanges').name, 'unknown');
  assert.equal(parseHash('#/exchanges/shop/queues').name, 'unknown');
  assert.equal(parseHash('#/exchanges/%E0%A4%A').name, 'unknown', 'bad percent-encoding');
  assert.equal(parseHash('#/token=abc').name, 'unknown');
});

test('the API path of a queue and of a subscription', () => {
  assert.equal(inboxPath({ name: 'queue', exchange: 'shop', queue: 'orders' }), '/v1/exchanges/shop/queues/orders');
  assert.equal(inboxPath({ name: 'subscription', exchange: 'shop', topic: 'news', subscription: 'audit' }), '/v1/exchanges/shop/topics/news/subscriptions/audit');
  assert.equal(inboxPath({ name: 'queue', exchange: 'a b', queue: 'c/d' }), '/v1/exchanges/a%20b/queues/c%2Fd');
});
