/**
 * The connection's request pipeline against a scripted HTTP server on port 0: auth,
 * re-login, retries, error mapping and the close() lifecycle, without a broker.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { connect, MomClientError } from '../../src/client';

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
}

type Handler = (req: Seen, res: ServerResponse) => void;

async function fakeServer(t: TestContext, handler: Handler): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const request = { method: req.method!, url: req.url!, authorization: req.headers.authorization, body };
      seen.push(request);
      handler(request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function error(res: ServerResponse, status: number, code: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): void {
  json(res, status, { error: { code, message: `${code} happened`, ...extra } }, headers);
}

let tokenCounter = 0;
function auth(req: Seen, res: ServerResponse): boolean {
  if (req.url !== '/auth') return false;
  const { user, pass } = JSON.parse(req.body) as { user: string; pass: string };
  if (user !== 'alice' || pass !== 'secret') error(res, 401, 'invalid_credentials');
  else json(res, 200, { token: `tok-${++tokenCounter}`, expires_at: new Date(Date.now() + 3_600_000).toISOString() });
  return true;
}

const STATS = { exchange: 'ex', name: 'q', depth: 0, in_flight: 0, dead_letters: 0, partition: 3, leader: 'node-1' };

test('connect logs in and sends the token as a bearer', async (t) => {
  const { url, seen } = await fakeServer(t, (req, res) => auth(req, res) || json(res, 200, STATS));
  const conn = await connect({ url, user: 'alice', password: 'secret' });
  t.after(() => conn.close());
  assert.deepEqual(await conn.queue('ex', 'q').stats(), STATS);
  assert.deepEqual(JSON.parse(seen[0]!.body), { user: 'alice', pass: 'secret' });
  assert.match(seen[1]!.authorization!, /^Bearer tok-\d+$/);
  assert.equal(seen[1]!.url, '/v1/exchanges/ex/queues/q');
});

test('bad credentials fail connect with invalid_credentials', async (t) => {
  const { url } = await fakeServer(t, (req, res) => auth(req, res) || json(res, 200, {}));
  await assert.rejects(connect({ url, user: 'alice', password: 'wrong' }), (e: unknown) => {
    assert.ok(e instanceof MomClientError);
    assert.equal(e.code, 'invalid_credentials');
    assert.equal(e.status, 401);
    assert.equal(e.retryable, false);
    return true;
  });
});

test('a rejected token is replaced by one new login and the request is sent again', async (t) => {
  const { url, seen } = await fakeServer(t, (req, res) => {
    if (auth(req, res)) return;
    if (req.authorization === 'Bearer stale') error(res, 401, 'unauthorized', { reason: 'token_expired' });
    else json(res, 200, STATS);
  });
  const conn = await connect({ url, user: 'alice', password: 'secret', token: 'stale' });
  t.after(() => conn.close());
  assert.equal(conn.stats().logins, 0, 'a given token is used first');
  const [a, b] = await Promise.all([conn.queue('ex', 'q').stats(), conn.queue('ex', 'q2').stats()]);
  assert.deepEqual(a, STATS);
  assert.deepEqual(b, STATS);
  assert.equal(conn.stats().logins, 1, 'two 401s in parallel share one login');
  assert.equal(seen.filter((r) => r.url === '/auth').length, 1);
});

test('a 401 that survives a fresh login is thrown, not looped on', async (t) => {
  const { url, seen } = await fakeServer(t, (req, res) => auth(req, res) || error(res, 401, 'unauthorized', { reason: 'token_invalid' }));
  const conn = await connect({ url, user: 'alice', password: 'secret' });
  t.after(() => conn.close());
  await assert.rejects(conn.queue('ex', 'q').stats(), (e: MomClientError) => e.code === 'unauthorized' && e.details.reason === 'token_invalid');
  assert.equal(seen.filter((r) => r.url === '/auth').length, 2);
  assert.equal(seen.filter((r) => r.url !== '/auth').length, 2);
});

test('without a password a 401 is thrown at once', async (t) => {
  const { url, seen } = await fakeServer(t, (_req, res) => error(res, 401, 'unauthorized'));
  const conn = await connect({ url, token: 'given' });
  t.after(() => conn.close());
  await assert.rejects(conn.queue('ex', 'q').stats(), { code: 'unauthorized', status: 401 });
  assert.equal(seen.length, 1);
});

test('idempotent requests are retried on 503, honoring Retry-After', async (t) => {
  let failures = 2;
  const { url, seen } = await fakeServer(t, (req, res) => {
    if (auth(req, res)) return;
    if (failures-- > 0) error(res, 503, 'unavailable', {}, { 'retry-after': '0' });
    else json(res, 200, STATS);
  });
  const conn = await connect({ url, user: 'alice', password: 'secret' });
  t.after(() => conn.close());
  assert.deepEqual(await conn.queue('ex', 'q').stats(), STATS);
  assert.equal(seen.filter((r) => r.method === 'GET').length, 3);
  assert.equal(conn.stats().retries, 2);
});

test('retries stop at the deadline with the last error', async (t) => {
  const { url } = await fakeServer(t, (req, res) => auth(req, res) || error(res, 503, 'unavailable', {}, { 'retry-after': '1' }));
  const conn = await connect({ url, user: 'alice', password: 'secret', retryDeadlineMs: 200 });
  t.after(() => conn.close());
  const started = Date.now();
  await assert.rejects(conn.queue('ex', 'q').stats(), { code: 'unavailable', status: 503, retryable: true });
  assert.ok(Date.now() - started < 1000, 'did not wait past the deadline for Retry-After');
});

test('a publish without producer ids is never resent after the server saw it', async (t) => {
  const { url, seen } = await fakeServer(t, (req, res) => auth(req, res) || error(res, 503, 'not_enough_replicas', {}, { 'retry-after': '0' }));
  const conn = await connect({ url, user: 'alice', password: 'secret' });
  t.after(() => conn.close());
  await assert.rejects(conn.queue('ex', 'q').publish({ n: 1 }), { code: 'not_enough_replicas' });
  assert.equal(seen.filter((r) => r.method === 'POST' && r.url.endsWith('/messages')).length, 1);
});

test('a publish whose messages all carry ids is retried, and so is one refused with 429', async (t) => {
  let failures = 1;
  let throttled = 1;
  const { url, seen } = await fakeServer(t, (req, res) => {
    if (auth(req, res)) return;
    const { messages } = JSON.parse(req.body) as { messages: Array<{ id?: string }> };
    if (messages[0]!.id !== undefined && failures-- > 0) return error(res, 503, 'unavailable', {}, { 'retry-after': '0' });
    if (messages[0]!.id === undefined && throttled-- > 0) return error(res, 429, 'too_many_requests', {}, { 'retry-after': '0' });
    json(res, 201, { ids: messages.map((m, i) => m.id ?? `gen-${i}`) });
  });
  const conn = await connect({ url, user: 'alice', password: 'secret' });
  t.after(() => conn.close());
  const orders = conn.queue('ex', 'orders');
  assert.equal(await orders.publish({ n: 1 }, { id: 'order-1' }), 'order-1');
  assert.equal(await orders.publish({ n: 2 }), 'gen-0');
  assert.equal(seen.filter((r) => r.url.endsWith('/messages')).length, 4);
});

test('server errors keep their code, status and details', async (t) => {
  const { url } = await fakeServer(t, (req, res) => auth(req, res) || error(res, 409, 'conflict', { existing: { max_deliveries: 3 } }));
  const conn = await connect({ url, user: 'alice', password: 'secret' });
  t.after(() => conn.close());
  await assert.rejects(conn.queue('ex', 'q').declare({ max_deliveries: 5 }), (e: unknown) => {
    assert.ok(e instanceof MomClientError);
    assert.equal(e.code, 'conflict');
    assert.equal(e.status, 409);
    assert.equal(e.message, 'conflict happened');
    assert.deepEqual(e.details, { existing: { max_deliveries: 3 } });
    return true;
  });
});

test('an answer that is not the documented JSON is a bad_response', async (t) => {
  const { url } = await fakeServer(t, (req, res) => {
    if (auth(req, res)) return;
    res.writeHead(502, { 'content-type': 'text/html' });
    res.end('<html>bad gateway</html>');
  });
  const conn = await connect({ url, user: 'alice', password: 'secret', retryDeadlineMs: 0 });
  t.after(() => conn.close());
  await assert.rejects(conn.queue('ex', 'q').stats(), { code: 'bad_response', status: 502, retryable: true });
});

test('declare reports whether it created; names are percent-encoded', async (t) => {
  const { url, seen } = await fakeServer(t, (req, res) => auth(req, res) || json(res, req.url.includes('new') ? 201 : 200, {}));
  const conn = await connect({ url, user: 'alice', password: 'secret' });
  t.after(() => conn.close());
  assert.deepEqual(await conn.declareExchange('new-ex'), { created: true });
  assert.deepEqual(await conn.queue('old', 'a b/c').declare({ max_deliveries: 5 }), { created: false });
  assert.equal(seen[2]!.url, '/v1/exchanges/old/queues/a%20b%2Fc');
  assert.deepEqual(JSON.parse(seen[2]!.body), { max_deliveries: 5 });
  assert.equal(seen[1]!.body, '', 'an exchange declare has no body');
});

test('subscribe names the subscription after the user by default', async (t) => {
  const { url, seen } = await fakeServer(t, (req, res) => auth(req, res) || json(res, 201, {}));
  const conn = await connect({ url, user: 'alice', password: 'secret' });
  t.after(() => conn.close());
  const sub = await conn.topic('shop', 'news').subscribe({ from: 'earliest' });
  assert.equal(sub.name, 'alice');
  assert.equal(seen[1]!.method, 'PUT');
  assert.equal(seen[1]!.url, '/v1/exchanges/shop/topics/news/subscriptions/alice');
  assert.deepEqual(JSON.parse(seen[1]!.body), { from: 'earliest' });
  await conn.topic('shop', 'news').subscribe('audit');
  assert.equal(seen[2]!.url, '/v1/exchanges/shop/topics/news/subscriptions/audit');
});

test('an unreachable server is a retryable network_error', async () => {
  const conn = await connect({ url: 'http://127.0.0.1:1', token: 't', retryDeadlineMs: 0 });
  try {
    await assert.rejects(conn.queue('ex', 'q').stats(), { code: 'network_error', retryable: true });
  } finally {
    await conn.close();
  }
});

test('consume yields pulled messages, acks are coalesced, and break gives back the rest', async (t) => {
  let pulls = 0;
  const { url, seen } = await fakeServer(t, (req, res) => {
    if (auth(req, res)) return;
    if (req.url.startsWith('/v1/exchanges/ex/queues/q/messages')) {
      pulls++;
      const messages = [1, 2, 3].map((n) => ({ id: `p${pulls}-${n}`, payload: n, headers: {}, published_at: new Date().toISOString(), deliveries: 1 }));
      return json(res, 200, { messages });
    }
    if (req.url.endsWith('/ack')) {
      const { ids } = JSON.parse(req.body) as { ids: string[] };
      return json(res, 200, { acked: ids.length, unknown: [] });
    }
    if (req.url.endsWith('/nack')) {
      const { ids } = JSON.parse(req.body) as { ids: string[] };
      return json(res, 200, { nacked: ids.length, unknown: [] });
    }
    error(res, 404, 'not_found');
  });
  const conn = await connect({ url, user: 'alice', password: 'secret' });
  t.after(() => conn.close());
  const got: string[] = [];
  const acks: Array<Promise<boolean>> = [];
  for await (const message of conn.queue('ex', 'q').consume({ mode: 'pull', max: 3, waitMs: 1000, leaseMs: 5000 })) {
    got.push(message.id);
    acks.push(message.ack());
    if (got.length === 4) break;
  }
  assert.deepEqual(got, ['p1-1', 'p1-2', 'p1-3', 'p2-1']);
  assert.deepEqual(await Promise.all(acks), [true, true, true, true]);
  await conn.close();
  const pullUrls = seen.filter((r) => r.method === 'GET').map((r) => r.url);
  assert.deepEqual(pullUrls, ['/v1/exchanges/ex/queues/q/messages?max=3&wait_ms=1000&lease_ms=5000', '/v1/exchanges/ex/queues/q/messages?max=3&wait_ms=1000&lease_ms=5000']);
  const acked = seen.filter((r) => r.url.endsWith('/ack')).map((r) => (JSON.parse(r.body) as { ids: string[] }).ids);
  assert.deepEqual(acked.flat().sort(), ['p1-1', 'p1-2', 'p1-3', 'p2-1']);
  assert.ok(acked.length <= 2, `acks coalesced into ${acked.length} requests`);
  const nacked = seen.filter((r) => r.url.endsWith('/nack')).map((r) => JSON.parse(r.body) as { ids: string[]; requeue: boolean });
  assert.deepEqual(nacked, [{ ids: ['p2-2', 'p2-3'], requeue: true }]);
});

test('close ends a waiting consumer, flushes publishes, and then refuses work', async (t) => {
  const waiting: ServerResponse[] = [];
  const { url, seen } = await fakeServer(t, (req, res) => {
    if (auth(req, res)) return;
    if (req.method === 'GET') return void waiting.push(res); // a long poll that never answers
    const { messages } = JSON.parse(req.body) as { messages: unknown[] };
    json(res, 201, { ids: messages.map((_, i) => `id-${i}`) });
  });
  const conn = await connect({ url, user: 'alice', password: 'secret' });
  const queue = conn.queue('ex', 'q');
  const consumed: unknown[] = [];
  const consuming = (async () => {
    for await (const message of queue.consume({ waitMs: 30_000 })) consumed.push(message);
  })();
  while (waiting.length === 0) await new Promise((resolve) => setImmediate(resolve));
  const published = queue.publish('last words');
  await conn.close();
  await consuming;
  assert.deepEqual(consumed, []);
  assert.equal(await published, 'id-0', 'the pending publish was sent before closing');
  assert.equal(seen.filter((r) => r.method === 'POST' && r.url.endsWith('/messages')).length, 1);
  await conn.close();
  await assert.rejects(queue.publish('too late'), { code: 'closed' });
  await assert.rejects(queue.pull(), { code: 'closed' });
  assert.throws(() => conn.queue('ex', 'other'), { code: 'closed' });
  for (const res of waiting) res.destroy();
});

test('an AbortSignal ends consume without an error', async (t) => {
  const { url } = await fakeServer(t, (req, res) => {
    if (auth(req, res)) return;
    setTimeout(() => json(res, 200, { messages: [] }), 20);
  });
  const conn = await connect({ url, user: 'alice', password: 'secret' });
  t.after(() => conn.close());
  const controller = new AbortController();
  let polls = 0;
  const consuming = (async () => {
    for await (const _ of conn.queue('ex', 'q').consume({ waitMs: 100, signal: controller.signal })) polls++;
  })();
  controller.abort();
  await consuming;
  assert.equal(polls, 0);
  await assert.rejects(conn.queue('ex', 'q').pull({ signal: AbortSignal.abort() }), { code: 'aborted' });
});
