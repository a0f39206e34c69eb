/** GET /ui: the page npm run build wrote to build/ui/, served whole; a 404 naming the build when it is missing. */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { HttpServer } from '../../../src/http/server';
import { PAGE_CSP } from '../../../src/http/static-files';
import { buildUiRoutes } from '../../../src/roles/gateway/ui-route';
import { loadUiFiles } from '../../../src/roles/gateway/ui-files';
import { silentLogger } from '../../../src/runtime/logger';
import type { Router } from '../../../src/http/router';

async function serve(t: TestContext, router: Router): Promise<string> {
  const server = new HttpServer({ host: '127.0.0.1', port: 0, logger: silentLogger }).mount(router);
  await server.start();
  t.after(() => server.close());
  return server.url();
}

test('the built page: an index whose script, stylesheet and icon are all served, with no inline script or style', async (t) => {
  const files = loadUiFiles();
  assert.ok(files, 'npm run build wrote build/ui/');
  const url = await serve(t, buildUiRoutes(() => files));
  const index = await fetch(`${url}/ui`);
  assert.equal(index.status, 200);
  assert.equal(index.headers.get('content-security-policy'), PAGE_CSP);
  const html = await index.text();
  assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]|<style|\sstyle=|\son[a-z]+=/i, 'nothing inline: the CSP would refuse it');
  const referenced = [...html.matchAll(/(?:src|href)="(\/ui\/[^"]+)"/g)].map((match) => match[1]!);
  assert.deepEqual(referenced.map((path) => path.replace(/-[A-Z0-9]{8}\./, '-HASH.')).sort(), ['/ui/app-HASH.css', '/ui/app-HASH.js', '/ui/icon-HASH.svg']);
  const types: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', svg: 'image/svg+xml' };
  for (const path of referenced) {
    const response = await fetch(`${url}${path}`);
    assert.equal(response.status, 200, path);
    assert.equal(response.headers.get('content-type'), types[path.split('.').pop()!], path);
    assert.equal(response.headers.get('cache-control'), 'public, max-age=31536000, immutable', path);
    assert.ok((await response.arrayBuffer()).byteLength > 0, path);
  }
});

test('no build: /ui is 404 and says how to build the page', async (t) => {
  const url = await serve(t, buildUiRoutes(() => undefined));
  const response = await fetch(`${url}/ui`);
  assert.equal(response.status, 404);
  assert.match(((await response.json()) as { error: { message: string } }).error.message, /npm run build/);
});
