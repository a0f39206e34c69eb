/** Static files from memory (the web page): content types, caching, ETags, the page's CSP. */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { HttpServer } from '../../src/http/server';
import { buildMissingStaticRoutes, buildStaticRoutes, contentTypeOf, PAGE_CSP, type StaticFile } from '../../src/http/static-files';
import { silentLogger } from '../../src/runtime/logger';
import type { Router } from '../../src/http/router';

const FILES: StaticFile[] = [
  { name: 'index.html', body: Buffer.from('<!doctype html><title>t</title>') },
  { name: 'app-ABCD1234.js', body: Buffer.from('console.info(1)') },
  { name: 'app-ABCD1234.css', body: Buffer.from('body{}') },
  { name: 'icon-0F0F0F0F.svg', body: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>') },
];

async function serve(t: TestContext, router: Router): Promise<string> {
  const server = new HttpServer({ host: '127.0.0.1', port: 0, logger: silentLogger }).mount(router);
  await server.start();
  t.after(() => server.close());
  return server.url();
}

test('content types by extension; unknown ones are octet-stream', () => {
  assert.equal(contentTypeOf('index.html'), 'text/html; charset=utf-8');
  assert.equal(contentTypeOf('app-X.js'), 'text/javascript; charset=utf-8');
  assert.equal(contentTypeOf('app-X.css'), 'text/css; charset=utf-8');
  assert.equal(contentTypeOf('icon.svg'), 'image/svg+xml');
  assert.equal(contentTypeOf('blob.bin'), 'application/octet-stream');
});

test('the index at /ui and /ui/ is revalidated every time; hashed files are immutable; every answer has the CSP', async (t) => {
  const url = await serve(t, buildStaticRoutes({ prefix: '/ui', index: 'index.html', files: FILES }));
  for (const path of ['/ui', '/ui/']) {
    const index = await fetch(`${url}${path}`);
    assert.equal(index.status, 200, path);
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    assert.equal(index.headers.get('content-security-policy'), PAGE_CSP);
    assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(index.headers.get('x-frame-options'), 'DENY');
    assert.equal(await index.text(), '<!doctype html><title>t</title>');
  }
  assert.match(PAGE_CSP, /default-src 'self'/);
  assert.doesNotMatch(PAGE_CSP, /unsafe-inline|unsafe-eval/);

  const script = await fetch(`${url}/ui/app-ABCD1234.js`);
  assert.equal(script.status, 200);
  assert.equal(script.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal(script.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.equal(script.headers.get('content-length'), String(FILES[1]!.body.length));
  assert.equal(script.headers.get('content-security-policy'), PAGE_CSP);
  assert.equal((await fetch(`${url}/ui/app-ABCD1234.css`)).headers.get('content-type'), 'text/css; charset=utf-8');
  assert.equal((await fetch(`${url}/ui/icon-0F0F0F0F.svg`)).headers.get('content-type'), 'image/svg+xml');
});

test('a conditional GET with the ETag is answered 304 without a body', async (t) => {
  const url = await serve(t, buildStaticRoutes({ prefix: '/ui', index: 'index.html', files: FILES }));
  const first = await fetch(`${url}/ui`);
  await first.arrayBuffer();
  const etag = first.headers.get('etag');
  assert.match(etag ?? '', /^"[A-Za-z0-9_-]+"$/);
  const again = await fetch(`${url}/ui`, { headers: { 'if-none-match': `W/"other", ${etag}` } });
  assert.equal(again.status, 304);
  assert.equal(await again.text(), '');
  assert.equal(again.headers.get('etag'), etag);
  const changed = await fetch(`${url}/ui`, { headers: { 'if-none-match': '"not-it"' } });
  assert.equal(changed.status, 200);
});

test('a name not in the build is 404 in the API error shape, and so is a path that climbs out', async (t) => {
  const url = await serve(t, buildStaticRoutes({ prefix: '/ui', index: 'index.html', files: FILES }));
  for (const path of ['/ui/missing.js', '/ui/..%2Fpackage.json', '/ui/%2e%2e', '/ui/a/b']) {
    const response = await fetch(`${url}${path}`);
    assert.equal(response.status, 404, path);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'not_found', path);
  }
  const post = await fetch(`${url}/ui`, { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET');
});

test('without a build, /ui answers 404 naming the command that builds the page', async (t) => {
  const url = await serve(t, buildMissingStaticRoutes('/ui', 'the page is not built: run npm run build'));
  for (const path of ['/ui', '/ui/app.js']) {
    const response = await fetch(`${url}${path}`);
    assert.equal(response.status, 404);
    assert.match(((await response.json()) as { error: { message: string } }).error.message, /npm run build/);
  }
});

test('an index missing from the files is refused when the routes are built', () => {
  assert.throws(() => buildStaticRoutes({ prefix: '/ui', index: 'index.html', files: FILES.slice(1) }), /index\.html is missing/);
});
