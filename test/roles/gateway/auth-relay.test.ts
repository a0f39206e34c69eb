import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { HttpServer } from '../../../src/http/server';
import { startAuthRole } from '../../../src/roles/auth/auth-role';
import { buildAuthRelay } from '../../../src/roles/gateway/auth-relay';
import { silentLogger } from '../../../src/runtime/logger';

test('a gateway relays POST /auth, POST /validate, the JWKS and GET /v1/users to the auth role', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mom-relay-'));
  const auth = await startAuthRole({ dataDir: dir, tokenTtlSeconds: 60, logger: silentLogger, env: { MOM_ADMIN_PASSWORD: 'relay-password-1' } });
  const authServer = new HttpServer({ host: '127.0.0.1', port: 0, logger: silentLogger }).mount(auth.router);
  await authServer.start();
  const gateway = new HttpServer({ host: '127.0.0.1', port: 0, logger: silentLogger }).mount(buildAuthRelay(authServer.url()));
  await gateway.start();
  t.after(async () => {
    await gateway.close();
    await authServer.close();
    await auth.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const login = await fetch(`${gateway.url()}/auth`, { method: 'POST', body: JSON.stringify({ user: 'admin', pass: 'relay-password-1' }) });
  assert.equal(login.status, 200);
  const { token } = (await login.json()) as { token: string };
  const validate = await fetch(`${gateway.url()}/validate`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  assert.equal(validate.status, 200);
  assert.equal(((await validate.json()) as { user: { username: string } }).user.username, 'admin');
  const wrong = await fetch(`${gateway.url()}/auth`, { method: 'POST', body: JSON.stringify({ user: 'admin', pass: 'nope-nope-nope' }) });
  assert.equal(wrong.status, 401);
  assert.equal(((await wrong.json()) as { error: { code: string } }).error.code, 'invalid_credentials');
  const users = await fetch(`${gateway.url()}/v1/users`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(users.status, 200, 'the users list is relayed with the token');
  assert.deepEqual(((await users.json()) as { users: Array<{ username: string }> }).users.map((user) => user.username), ['admin']);
  assert.equal((await fetch(`${gateway.url()}/v1/users`)).status, 401, 'and the auth role decides who may see it');
  const jwks = await fetch(`${gateway.url()}/.well-known/jwks.json`);
  assert.equal(((await jwks.json()) as { keys: unknown[] }).keys.length, 1);

  await authServer.close();
  const down = await fetch(`${gateway.url()}/auth`, { method: 'POST', body: JSON.stringify({ user: 'admin', pass: 'relay-password-1' }) });
  assert.equal(down.status, 503);
  assert.equal(((await down.json()) as { error: { code: string } }).error.code, 'unavailable');
});
