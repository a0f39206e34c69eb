/**
 * The SDK's push consumer (src/client/stream-consumer.ts) against a scripted HTTP server:
 * events become messages, acks are coalesced and sent before a stream is closed, a stream the
 * server ends with a retryable error is opened again, and a final error ends the iterator.
 */
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { connect, MomClientError } from '../../src/client';
import { waitFor } from '../helpers/wait';

interface Script {
  /** Answers the n-th stream request (0-based). */
  stream(n: number, res: ServerResponse): void;
}

async function scriptedServer(t: TestContext, script: Script): Promise<{ url: string; log: string[] }> {
  const log: string[] = [];
  let streams = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      if (req.url === '/auth') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ token: 'tok', expires_at: new Date(Date.now() + 3_600_000).toISOString() }));
        return;
      }
      if (req.url?.includes('/stream')) {
        log.push(`stream ${req.url}`);
        res.on('close', () => log.push('stream closed'));
        script.stream(streams++, res);
        return;
      }
      if (req.url?.endsWith('/ack')) {
        const { ids } = JSON.parse(body) as { ids: string[] };
        log.push(`ack ${ids.join(',')}`);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ acked: ids.length, unknown: [] }));
        return;
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, log };
}

function sse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.flushHeaders();
}

function event(id: string, payload: unknown, deliveries = 1): string {
  return `event: message\nid: ${id}\ndata: ${JSON.stringify({ id, payload, headers: {}, published_at: new Date(0).toISOString(), deliveries })}\n\n`;
}

test('a stream: messages in order, acks sent before the stream closes, prefetch and lease in the query', async (t) => {
  const { url, log } = await scriptedServer(t, {
    stream(_n, res) {
      sse(res);
      res.write(`: keepalive\n\n${event('a', 1)}${event('b', 2)}`);
      setTimeout(() => res.write(event('c', 3)), 20);
    },
  });
  const conn = await connect({ url, user: 'alice', password: 'secret' });
  t.after(() => conn.close());
  const got: unknown[] = [];
  for await (const message of conn.queue('ex', 'q').consume({ prefetch: 7, leaseMs: 5000 })) {
    got.push(message.payload);
    void message.ack();
    if (got.length === 3) break;
  }
  assert.deepEqual(got, [1, 2, 3]);
  assert.equal(log[0], 'stream /v1/exchanges/ex/queues/q/stream?prefetch=7&lease_ms=5000');
  const acked = log.filter((line) => line.startsWith('ack ')).flatMap((line) => line.slice(4).split(','));
  assert.deepEqual(acked.sort(), ['a', 'b', 'c']);
  await waitFor('the stream to be closed', () => log.includes('stream closed'), { timeoutMs: 5_000 });
  assert.ok(log.indexOf('stream closed') > log.findIndex((line) => line.startsWith('ack ') && line.includes('c')), `every ack went out before the stream closed: ${log.join(' | ')}`);
});

test('a stream the server ends with a retryable error is opened again; a final error ends the iterator', async (t) => {
  const { url, log } = await scriptedServer(t, {
    stream(n, res) {
      sse(res);
      if (n === 0) res.end(`${event('a', 1)}event: error\ndata: {"error":{"code":"unavailable","message":"leadership moved"}}\n\n`);
      else if (n === 1) res.end(`${event('b', 2, 2)}event: error\ndata: {"error":{"code":"queue_not_found","message":"queue ex/q was deleted"}}\n\n`);
    },
  });
  const conn = await connect({ url, user: 'alice', password: 'secret' });
  t.after(() => conn.close());
  const got: unknown[] = [];
  await assert.rejects(
    (async () => {
      for await (const message of conn.queue('ex', 'q').consume()) got.push([message.payload, message.deliveries]);
    })(),
    (error: MomClientError) => error.code === 'queue_not_found' && !error.retryable,
  );
  assert.deepEqual(got, [
    [1, 1],
    [2, 2],
  ]);
  assert.equal(log.filter((line) => line.startsWith('stream /')).length, 2, 'reconnected once, then gave up on a final error');
});
