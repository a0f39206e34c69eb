/** The HTTP server's 404/405 answers (DESIGN §8: 405 `method_not_allowed` with `Allow`). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpServer } from '../../src/http/server';
import { Router } from '../../src/http/router';
import { sendJson } from '../../src/http/response';
import { silentLogger } from '../../src/runtime/logger';

test('the server answers 405 with Allow from every mounted router, 404 for an unknown path', async (t) => {
  const server = new HttpServer({ host: '127.0.0.1', port: 0, logger: silentLogger });
  server.mount(new Router().get('/things/:id', ({ res }) => sendJson(res, 200, { ok: true })));
  server.mount(new Router().delete('/things/:id', ({ res }) => sendJson(res, 200, { deleted: true })));
  await server.start();
  t.after(() => server.close());
  const url = server.url();

  const wrong = await fetch(`${url}/things/1`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get('allow'), 'DELETE, GET');
  const body = (await wrong.json()) as { error: { code: string; message: string; allow: string[] } };
  assert.equal(body.error.code, 'method_not_allowed');
  assert.deepEqual(body.error.allow, ['DELETE', 'GET']);
  assert.match(body.error.message, /POST is not allowed on \/things\/1; use DELETE, GET/);

  assert.equal((await fetch(`${url}/things/1`, { method: 'DELETE' })).status, 200, 'the second router serves its method');
  const unknown = await fetch(`${url}/elsewhere`, { method: 'POST' });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.headers.get('allow'), null);
  assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'not_found');
});
