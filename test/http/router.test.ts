/** The small HTTP router: literal segments and `:name` parameters, without a server. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Router, type RouteHandler } from '../../src/http/router';

/** A handler that can be told apart from the others by identity. */
function handler(): RouteHandler {
  return () => {};
}

test('a literal route matches its method and path only', () => {
  const list = handler();
  const router = new Router().get('/v1/exchanges', list);
  assert.deepEqual(router.match('GET', '/v1/exchanges'), { handler: list, pattern: '/v1/exchanges', params: {} });
  assert.equal(router.match('GET', '/v1/exchange'), undefined);
  assert.equal(router.match('GET', '/v1/exchanges/logs'), undefined, 'more segments');
  assert.equal(router.match('GET', '/v1'), undefined, 'fewer segments');
});

test('parameters are named by the pattern and percent-decoded; the match names its pattern (the metrics route label)', () => {
  const pull = handler();
  const router = new Router().get('/v1/exchanges/:ex/queues/:q/messages', pull);
  assert.deepEqual(router.match('GET', '/v1/exchanges/logs/queues/jobs%2Dhigh/messages'), { handler: pull, pattern: '/v1/exchanges/:ex/queues/:q/messages', params: { ex: 'logs', q: 'jobs-high' } });
  assert.deepEqual(router.match('GET', '/v1/exchanges/a%20b/queues/%E2%82%AC/messages')?.params, { ex: 'a b', q: '€' });
});

test('empty segments do not count: a trailing or doubled slash is the same path', () => {
  const health = handler();
  const router = new Router().get('/health', health);
  assert.equal(router.match('GET', '/health/')?.handler, health);
  assert.equal(router.match('GET', '//health')?.handler, health);
});

test('the method picks among routes of one path', () => {
  const declare = handler();
  const stats = handler();
  const remove = handler();
  const router = new Router().put('/v1/exchanges/:ex/queues/:q', declare).get('/v1/exchanges/:ex/queues/:q', stats).delete('/v1/exchanges/:ex/queues/:q', remove);
  assert.equal(router.match('PUT', '/v1/exchanges/e/queues/q')?.handler, declare);
  assert.equal(router.match('GET', '/v1/exchanges/e/queues/q')?.handler, stats);
  assert.equal(router.match('DELETE', '/v1/exchanges/e/queues/q')?.handler, remove);
});

test('a path that exists under another method matches nothing; allowed() lists its methods', () => {
  const router = new Router().post('/v1/exchanges/:ex/queues/:q/ack', handler());
  assert.equal(router.match('GET', '/v1/exchanges/e/queues/q/ack'), undefined);
  assert.deepEqual(router.allowed('/v1/exchanges/e/queues/q/ack'), ['POST']);
});

test('the first matching route wins: a literal registered before a parameter takes its path', () => {
  const special = handler();
  const byKind = handler();
  const router = new Router().get('/v1/exchanges/:ex/queues', special).get('/v1/exchanges/:ex/:kind', byKind);
  assert.equal(router.match('GET', '/v1/exchanges/e/queues')?.handler, special);
  assert.deepEqual(router.match('GET', '/v1/exchanges/e/topics'), { handler: byKind, pattern: '/v1/exchanges/:ex/:kind', params: { ex: 'e', kind: 'topics' } });
});

test('a parameter that is not valid percent-encoding is bad_request', () => {
  const router = new Router().get('/v1/exchanges/:ex', handler());
  assert.throws(() => router.match('GET', '/v1/exchanges/%E2%82'), (error: { code?: string }) => error.code === 'bad_request');
  assert.throws(() => router.match('GET', '/v1/exchanges/100%'), (error: { code?: string }) => error.code === 'bad_request');
});

test('a route matches its method and path; other methods of a known path are listed by allowed()', () => {
  const router = new Router()
    .get('/v1/exchanges/:ex/queues/:q', () => {})
    .put('/v1/exchanges/:ex/queues/:q', () => {})
    .delete('/v1/exchanges/:ex/queues/:q', () => {});
  assert.deepEqual(router.match('GET', '/v1/exchanges/a%2Fb/queues/q')?.params, { ex: 'a/b', q: 'q' });
  assert.equal(router.match('POST', '/v1/exchanges/e/queues/q'), undefined);
  assert.deepEqual(router.allowed('/v1/exchanges/e/queues/q'), ['GET', 'PUT', 'DELETE']);
  assert.deepEqual(router.allowed('/v1/exchanges/e/queues'), []);
});
