/**
 * The gateway's /v1 forwarding over real HTTP: the gateway is the real HttpServer with the
 * gateway routes; "nodes" are small HTTP servers whose answers each test scripts; the map is
 * an in-test RouteSource the test moves like a controller would. Tokens are real (Ed25519).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { partitionOf } from '../../../src/core/hash';
import { HttpServer } from '../../../src/http/server';
import { createTokenVerifier } from '../../../src/http/token-verifier';
import { Logger, parseLogLevel } from '../../../src/runtime/logger';
import { loadOrCreateSigningKey } from '../../../src/roles/auth/signing-key';
import { TokenIssuer } from '../../../src/roles/auth/token-issuer';
import { Forwarder, type ForwarderOptions, type RouteSource } from '../../../src/roles/gateway/forwarder';
import { buildGatewayApi } from '../../../src/roles/gateway/gateway-api';
import type { Route } from '../../../src/coordination/partition-map';
import { waitFor } from '../../helpers/wait';
import { GatewayMetrics } from '../../../src/roles/gateway/gateway-metrics';
import { Metrics } from '../../../src/runtime/metrics';
import { conventionProblems, parsePrometheusText, value } from '../../helpers/prometheus';

const logger = new Logger(parseLogLevel(process.env.MOM_LOG_LEVEL, 'silent'));
const PARTITIONS = 8;

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
}

type Script = (req: IncomingMessage, res: ServerResponse, body: string, n: number) => void;

interface FakeNode {
  url: string;
  seen: Seen[];
  script: Script;
  close(): Promise<void>;
}

/** A real HTTP server standing in for a node; `script` decides each answer. */
async function fakeNode(t: TestContext, script: Script): Promise<FakeNode> {
  const seen: Seen[] = [];
  const node: FakeNode = { url: '', seen, script, close: async () => {} };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization, body });
      node.script(req, res, body, seen.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  node.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let closed: Promise<void> | undefined;
  node.close = () =>
    (closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }));
  t.after(() => node.close());
  return node;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function notLeader(location: string | null): Script {
  return (_req, res) =>
    json(res, 421, {
      error: { code: 'not_leader', message: 'not the leader', partition: 0, leader: location ? 'node-b' : null, node_location: location, leader_epoch: 2 },
    });
}

const echo: Script = (req, res, body) => json(res, req.method === 'POST' ? 201 : 200, { echoed: body, url: req.url });

/** The map as a test moves it: one location for every partition and for exchange requests. */
class TestRoutes implements RouteSource {
  refreshes = 0;
  onRefresh: (() => void) | undefined;
  constructor(public location: string | null) {}
  route(exchange: string, name: string): Route {
    const leader = this.location ? 'node' : null;
    return { partition: partitionOf(exchange, name, PARTITIONS), leader, node_location: this.location, replicas: [], leader_epoch: 1 };
  }
  anyLocation(): string | null {
    return this.location;
  }
  async refresh(): Promise<void> {
    this.refreshes++;
    this.onRefresh?.();
  }
}

interface Gateway {
  url: string;
  token: string;
  routes: TestRoutes;
  forwarder: Forwarder;
  call(method: string, path: string, init?: { body?: string; token?: string | null; signal?: AbortSignal }): Promise<Response>;
}

async function gateway(t: TestContext, routes: TestRoutes, options: Partial<ForwarderOptions> = {}): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), 'mom-gateway-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const key = await loadOrCreateSigningKey(dir);
  const { token } = await new TokenIssuer(key, { ttlSeconds: 600 }).issue({ userId: 1, username: 'alice', admin: true, grants: [] });
  const forwarder = new Forwarder({ routes, verifier: createTokenVerifier({ jwks: key.jwks }), logger, retryDeadlineMs: 2_000, ...options });
  const http = new HttpServer({ host: '127.0.0.1', port: 0, logger });
  http.mount(buildGatewayApi(forwarder));
  await http.start();
  t.after(async () => {
    await http.close();
    await forwarder.close();
  });
  const url = http.url();
  return {
    url,
    token,
    routes,
    forwarder,
    call: (method, path, init = {}) => {
      const headers: Record<string, string> = {};
      const bearer = init.token === undefined ? token : init.token;
      if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
      if (init.body !== undefined) headers['content-type'] = 'application/json';
      return fetch(`${url}${path}`, { method, headers, body: init.body, signal: init.signal });
    },
  };
}

const PUBLISH = '/v1/exchanges/logs/queues/jobs/messages';

test('no token, or a bad one: 401 before anything is forwarded', async (t) => {
  const node = await fakeNode(t, echo);
  const gw = await gateway(t, new TestRoutes(node.url));
  const missing = await gw.call('POST', PUBLISH, { body: '{"payload":1}', token: null });
  assert.equal(missing.status, 401);
  assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'unauthorized');
  const forged = await gw.call('GET', '/v1/exchanges', { token: `${gw.token.slice(0, -4)}AAAA` });
  assert.equal(forged.status, 401);
  assert.equal(node.seen.length, 0);
});

test('a request goes to its partition leader with method, path, query, body and token', async (t) => {
  const node = await fakeNode(t, echo);
  const gw = await gateway(t, new TestRoutes(node.url));
  const published = await gw.call('POST', `${PUBLISH}?acks=leader`, { body: '{"payload":{"n":1}}' });
  assert.equal(published.status, 201);
  assert.deepEqual(await published.json(), { echoed: '{"payload":{"n":1}}', url: `${PUBLISH}?acks=leader` });
  const pulled = await gw.call('GET', '/v1/exchanges/logs/topics/t1/subscriptions/s1/messages?max=5&wait_ms=0');
  assert.equal(pulled.status, 200);
  assert.deepEqual(
    node.seen.map((s) => [s.method, s.url, s.authorization]),
    [
      ['POST', `${PUBLISH}?acks=leader`, `Bearer ${gw.token}`],
      ['GET', '/v1/exchanges/logs/topics/t1/subscriptions/s1/messages?max=5&wait_ms=0', `Bearer ${gw.token}`],
    ],
  );
});

test('answers that are not failover signals pass through as they are', async (t) => {
  const node = await fakeNode(t, (_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json', 'x-extra': 'kept' });
    res.end('{"error":{"code":"queue_not_found","message":"no"}}');
  });
  const gw = await gateway(t, new TestRoutes(node.url));
  const response = await gw.call('GET', '/v1/exchanges/logs/queues/nope');
  assert.equal(response.status, 404);
  assert.equal(response.headers.get('x-extra'), 'kept');
  assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'queue_not_found');
  assert.equal(node.seen.length, 1);
});

test('421 not_leader: retried at the leader the node names while the map still lags', async (t) => {
  const leader = await fakeNode(t, echo);
  const stale = await fakeNode(t, notLeader(leader.url));
  const gw = await gateway(t, new TestRoutes(stale.url));
  const response = await gw.call('POST', PUBLISH, { body: '{"payload":"x"}' });
  assert.equal(response.status, 201);
  assert.equal(stale.seen.length, 1);
  assert.deepEqual(leader.seen.map((s) => [s.method, s.url, s.body]), [['POST', PUBLISH, '{"payload":"x"}']]);
});

test('421 without a location: the map is refreshed and the request retried at the new leader', async (t) => {
  const leader = await fakeNode(t, echo);
  const old = await fakeNode(t, notLeader(null));
  const routes = new TestRoutes(old.url);
  // The second refresh brings the new map (as a watch would land a little later).
  routes.onRefresh = () => {
    if (routes.refreshes >= 2) routes.location = leader.url;
  };
  const gw = await gateway(t, routes);
  const response = await gw.call('POST', PUBLISH, { body: '{"payload":"x"}' });
  assert.equal(response.status, 201);
  assert.equal(old.seen.length, 2);
  assert.equal(leader.seen.length, 1);
});

test('no leader, then one: the request waits for the map within the deadline', async (t) => {
  const leader = await fakeNode(t, echo);
  const routes = new TestRoutes(null);
  routes.onRefresh = () => {
    if (routes.refreshes >= 3) routes.location = leader.url;
  };
  const gw = await gateway(t, routes);
  const response = await gw.call('PUT', '/v1/exchanges/logs/queues/jobs', { body: '{}' });
  assert.equal(response.status, 200);
  assert.equal(leader.seen.length, 1);
});

test('503 unavailable until the deadline: 503 unavailable with Retry-After', async (t) => {
  const node = await fakeNode(t, (_req, res) => json(res, 503, { error: { code: 'not_enough_replicas', message: 'ISR too small' } }));
  const gw = await gateway(t, new TestRoutes(node.url), { retryDeadlineMs: 400 });
  const started = Date.now();
  const response = await gw.call('POST', PUBLISH, { body: '{"payload":1}' });
  const elapsed = Date.now() - started;
  assert.equal(response.status, 503);
  assert.ok(response.headers.get('retry-after'), 'Retry-After is set');
  const body = (await response.json()) as { error: { code: string; last_error: string } };
  assert.equal(body.error.code, 'unavailable');
  assert.equal(body.error.last_error, 'not_enough_replicas');
  assert.ok(elapsed >= 400, `answered after ${elapsed} ms, not before the deadline`);
  assert.ok(node.seen.length >= 3, `retried with backoff (${node.seen.length} attempts)`);
});

test('a 503 that is not a failover signal is passed on at once', async (t) => {
  const node = await fakeNode(t, (_req, res) => json(res, 503, { error: { code: 'something_else', message: 'no' } }));
  const gw = await gateway(t, new TestRoutes(node.url));
  const response = await gw.call('GET', '/v1/exchanges/logs/queues/jobs');
  assert.equal(response.status, 503);
  assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'something_else');
  assert.equal(node.seen.length, 1);
});

test('connection refused is retried, publishes included: nothing was sent', async (t) => {
  const leader = await fakeNode(t, echo);
  const dead = await fakeNode(t, echo);
  await dead.close();
  const routes = new TestRoutes(dead.url);
  routes.onRefresh = () => {
    routes.location = leader.url;
  };
  const gw = await gateway(t, routes);
  const response = await gw.call('POST', PUBLISH, { body: '{"payload":1}' });
  assert.equal(response.status, 201);
  assert.equal(leader.seen.length, 1);
});

test('a connection lost after sending: a publish is not resent, a pull is', async (t) => {
  const node = await fakeNode(t, (req, res, _body, n) => {
    // The first two requests are "processed", then the connection dies before the answer.
    if (n <= 2) req.socket.destroy();
    else echo(req, res, '', n);
  });
  const gw = await gateway(t, new TestRoutes(node.url));
  const publish = await gw.call('POST', PUBLISH, { body: '{"payload":1}' });
  assert.equal(publish.status, 503);
  const error = ((await publish.json()) as { error: { code: string; message: string } }).error;
  assert.equal(error.code, 'unavailable');
  assert.match(error.message, /may or may not have been stored/);
  assert.equal(node.seen.length, 1, 'the publish reached the node once and was not sent again');

  const pull = await gw.call('GET', '/v1/exchanges/logs/queues/jobs/messages?max=1');
  assert.equal(pull.status, 200);
  assert.equal(node.seen.length, 3, 'the pull was sent again after the cut');
});

test('a long poll answered late comes through', async (t) => {
  const node = await fakeNode(t, (req, res) => {
    setTimeout(() => json(res, 200, { messages: [] }), 1_500);
  });
  const gw = await gateway(t, new TestRoutes(node.url), { retryDeadlineMs: 200 });
  const started = Date.now();
  const response = await gw.call('GET', '/v1/exchanges/logs/queues/jobs/messages?wait_ms=1500');
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { messages: [] });
  assert.ok(Date.now() - started >= 1_500);
  assert.equal(node.seen.length, 1, 'not retried: the retry deadline does not cut a request in progress');
});

test('a client that gives up a long poll takes the upstream request with it', async (t) => {
  let upstreamClosed = false;
  const node = await fakeNode(t, (_req, res) => {
    res.on('close', () => {
      if (!res.writableFinished) upstreamClosed = true;
    });
  });
  const gw = await gateway(t, new TestRoutes(node.url));
  const abort = new AbortController();
  const call = gw.call('GET', '/v1/exchanges/logs/queues/jobs/messages?wait_ms=30000', { signal: abort.signal });
  await waitFor('the node to hold the long poll', () => node.seen.length === 1);
  abort.abort();
  await assert.rejects(call);
  await waitFor('the upstream request to be closed', () => upstreamClosed);
});

test('a long poll given up while it waits for a pooled connection never reaches the node', async (t) => {
  let release: (() => void) | undefined;
  const node = await fakeNode(t, (req, res) => {
    if (req.url!.includes('wait_ms=30000')) release = () => json(res, 200, { messages: [] });
    else echo(req, res, '', 0);
  });
  const gw = await gateway(t, new TestRoutes(node.url), { connectionsPerNode: 1 });
  const holding = gw.call('GET', '/v1/exchanges/logs/queues/jobs/messages?wait_ms=30000');
  await waitFor('the node to hold the first long poll', () => node.seen.length === 1);
  const abort = new AbortController();
  const queued = gw.call('GET', '/v1/exchanges/logs/queues/other/messages?wait_ms=20000', { signal: abort.signal });
  // The second long poll waits in the pool behind the first; its client leaves meanwhile.
  await new Promise((resolve) => setTimeout(resolve, 100));
  abort.abort();
  await assert.rejects(queued);
  release!();
  assert.equal((await holding).status, 200);
  const after = await gw.call('GET', '/v1/exchanges/logs/queues/jobs');
  assert.equal(after.status, 200);
  assert.deepEqual(
    node.seen.map((s) => s.url),
    ['/v1/exchanges/logs/queues/jobs/messages?wait_ms=30000', '/v1/exchanges/logs/queues/jobs'],
  );
});

test('answers go back with their own Content-Length and without hop-by-hop headers', async (t) => {
  const body = JSON.stringify({ messages: [{ payload: 'é'.repeat(5_000) }] });
  const node = await fakeNode(t, (_req, res) => {
    // Chunked, in two parts, with a hop-by-hop header the gateway must not copy.
    res.writeHead(200, { 'content-type': 'application/json', 'x-extra': 'kept', 'keep-alive': 'timeout=99', 'proxy-authenticate': 'Basic' });
    res.write(body.slice(0, 100));
    setTimeout(() => res.end(body.slice(100)), 20);
  });
  const gw = await gateway(t, new TestRoutes(node.url));
  for (const query of ['wait_ms=0', 'wait_ms=1000']) {
    const response = await gw.call('GET', `/v1/exchanges/logs/queues/jobs/messages?${query}`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-extra'), 'kept');
    assert.notEqual(response.headers.get('keep-alive'), 'timeout=99');
    assert.equal(response.headers.get('proxy-authenticate'), null);
    assert.equal(response.headers.get('transfer-encoding'), null);
    assert.equal(response.headers.get('content-length'), String(Buffer.byteLength(body)));
    assert.equal(await response.text(), body);
  }
});

test('an answer cut after its headers is an error, not a short answer', async (t) => {
  const node = await fakeNode(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
    res.write('{"messages":[');
    setTimeout(() => res.socket!.destroy(), 20);
  });
  const gw = await gateway(t, new TestRoutes(node.url));
  for (const path of ['/v1/exchanges/logs/queues/jobs/messages?wait_ms=1000', '/v1/exchanges/logs/queues/jobs']) {
    const response = await gw.call('GET', path);
    assert.equal(response.status, 500);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'internal');
  }
  assert.equal(node.seen.length, 2, 'not retried: the node answered');
});

test('exchange requests go to any live node', async (t) => {
  const node = await fakeNode(t, echo);
  const gw = await gateway(t, new TestRoutes(node.url));
  assert.equal((await gw.call('PUT', '/v1/exchanges/logs')).status, 200);
  assert.equal((await gw.call('GET', '/v1/exchanges')).status, 200);
  assert.equal((await gw.call('DELETE', '/v1/exchanges/logs?force=true')).status, 200);
  assert.deepEqual(node.seen.map((s) => `${s.method} ${s.url}`), ['PUT /v1/exchanges/logs', 'GET /v1/exchanges', 'DELETE /v1/exchanges/logs?force=true']);
});

test('invalid names are 400 and oversized bodies 413, without reaching a node', async (t) => {
  const node = await fakeNode(t, echo);
  const gw = await gateway(t, new TestRoutes(node.url), { bodyLimit: 64 });
  const badName = await gw.call('PUT', '/v1/exchanges/logs/queues/.hidden');
  assert.equal(badName.status, 400);
  assert.equal(((await badName.json()) as { error: { code: string } }).error.code, 'invalid_name');
  const big = await gw.call('POST', PUBLISH, { body: JSON.stringify({ payload: 'x'.repeat(100) }) });
  assert.equal(big.status, 413);
  assert.equal(node.seen.length, 0);
});

test('/metrics: forwarded requests counted by outcome and retries by reason', async (t) => {
  const metrics = new Metrics({ processMetrics: false });
  const gatewayMetrics = new GatewayMetrics(metrics);
  const leader = await fakeNode(t, echo);
  let cutFirst = true;
  const node = await fakeNode(t, (req, res, body, n) => {
    if (req.url!.includes('/queues/moved/')) return notLeader(leader.url)(req, res, body, n);
    if (req.url!.includes('/queues/stuck/')) return json(res, 503, { error: { code: 'not_enough_replicas', message: 'ISR too small' } });
    if (req.url!.includes('/queues/cut/') && cutFirst) {
      cutFirst = false;
      req.socket.destroy();
      return;
    }
    echo(req, res, body, n);
  });
  const gw = await gateway(t, new TestRoutes(node.url), { retryDeadlineMs: 300, metrics: gatewayMetrics });
  assert.equal((await gw.call('POST', PUBLISH, { body: '{"payload":1}' })).status, 201);
  assert.equal((await gw.call('POST', '/v1/exchanges/logs/queues/moved/messages', { body: '{"payload":1}' })).status, 201);
  assert.equal((await gw.call('POST', '/v1/exchanges/logs/queues/stuck/messages', { body: '{"payload":1}' })).status, 503);
  assert.equal((await gw.call('POST', '/v1/exchanges/logs/queues/cut/messages', { body: '{"payload":1}' })).status, 503);

  const scraped = parsePrometheusText(await metrics.render());
  assert.deepEqual(conventionProblems(scraped), []);
  assert.equal(value(scraped, 'mom_gateway_requests_total', { outcome: 'answered' }), 2);
  assert.equal(value(scraped, 'mom_gateway_requests_total', { outcome: 'unavailable' }), 1);
  assert.equal(value(scraped, 'mom_gateway_requests_total', { outcome: 'not_resent' }), 1);
  assert.equal(value(scraped, 'mom_gateway_requests_total', { outcome: 'client_gone' }), 0);
  assert.equal(value(scraped, 'mom_gateway_retries_total', { reason: 'not_leader' }), 1);
  assert.ok(value(scraped, 'mom_gateway_retries_total', { reason: 'not_enough_replicas' }) >= 2, 'the stuck publish was retried until the deadline');
  assert.equal(value(scraped, 'mom_gateway_streams_open'), 0);
});
