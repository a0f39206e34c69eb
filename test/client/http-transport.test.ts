/**
 * The SDK's transport over TLS (issue 11 §4): both pools (requests and streams) check an
 * https:// server against the CA given; a certificate they cannot trust, or a server that
 * does not speak TLS, fails at once with code `tls_error` (not retryable, not sent).
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { isMomClientError } from '../../src/client';
import { HttpTransport, requestWasNotSent } from '../../src/client/http-transport';
import { createCa, issueCertificate } from '../helpers/tls';

async function listen(t: TestContext, server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

const answer = (_req: unknown, res: import('node:http').ServerResponse): void => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('hello');
};

function transport(t: TestContext, url: string, ca?: Buffer): HttpTransport {
  const result = new HttpTransport(new URL(url), ca ? { ca } : {});
  t.after(() => result.close());
  return result;
}

test('requests and streams trust the CA given', async (t) => {
  const ca = createCa(t);
  const { cert, key } = issueCertificate(ca, 'server');
  const port = await listen(t, createHttpsServer({ cert, key }, answer));
  const client = transport(t, `https://127.0.0.1:${port}`, ca.pem);
  const response = await client.request({ method: 'GET', path: '/', headers: {}, timeoutMs: 5_000 });
  assert.equal(response.text, 'hello');
  const stream = await client.stream({ method: 'GET', path: '/', headers: {}, idleTimeoutMs: 5_000 });
  assert.equal(await stream.text(), 'hello');
});

test('an untrusted certificate, or a server without TLS, is a tls_error that was not sent', async (t) => {
  const ca = createCa(t);
  const { cert, key } = issueCertificate(ca, 'server');
  const httpsPort = await listen(t, createHttpsServer({ cert, key }, answer));
  const httpPort = await listen(t, createHttpServer(answer));
  for (const [what, client] of [
    ['no CA', transport(t, `https://127.0.0.1:${httpsPort}`)],
    ['another CA', transport(t, `https://127.0.0.1:${httpsPort}`, createCa(t, 'other CA').pem)],
    ['plain HTTP behind https://', transport(t, `https://127.0.0.1:${httpPort}`, ca.pem)],
  ] as const) {
    for (const call of [
      () => client.request({ method: 'GET', path: '/', headers: {}, timeoutMs: 5_000 }),
      () => client.stream({ method: 'GET', path: '/', headers: {}, idleTimeoutMs: 5_000 }),
    ]) {
      await assert.rejects(call(), (error: unknown) => {
        assert.ok(isMomClientError(error), `${what}: ${String(error)}`);
        assert.equal(error.code, 'tls_error', what);
        assert.equal(error.retryable, false, what);
        assert.ok(requestWasNotSent(error), `${what}: nothing reached the server`);
        return true;
      });
    }
  }
});
