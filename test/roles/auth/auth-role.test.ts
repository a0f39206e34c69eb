import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { HttpServer } from '../../../src/http/server';
import { createTokenVerifier } from '../../../src/http/token-verifier';
import { startAuthRole, type AuthRole } from '../../../src/roles/auth/auth-role';
import { Logger, silentLogger, type LogSink } from '../../../src/runtime/logger';
import { Metrics } from '../../../src/runtime/metrics';
import { UserDatabase } from '../../../src/store/user-database';
import { conventionProblems, parsePrometheusText, value } from '../../helpers/prometheus';

interface Fixture {
  role: AuthRole;
  url: string;
  dataDir: string;
  logLines: string[];
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mom-auth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function startAuth(t: TestContext, options: { dataDir?: string; env?: NodeJS.ProcessEnv; ttl?: number; clusterSecret?: string; metrics?: Metrics } = {}): Promise<Fixture> {
  const dataDir = options.dataDir ?? tempDir(t);
  const logLines: string[] = [];
  const sink: LogSink = { write: (line) => logLines.push(line) };
  const role = await startAuthRole({
    dataDir,
    tokenTtlSeconds: options.ttl ?? 600,
    logger: new Logger('info', {}, sink),
    env: options.env ?? { MOM_ADMIN_PASSWORD: 'admin-password' },
    ...(options.clusterSecret ? { clusterSecret: options.clusterSecret } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  const server = new HttpServer({ host: '127.0.0.1', port: 0, logger: silentLogger }).mount(role.router);
  await server.start();
  t.after(async () => {
    await server.close();
    await role.close();
  });
  return { role, url: server.url(), dataDir, logLines };
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text), headers: response.headers };
}

test('POST /auth returns a signed token and an ISO 8601 expiry', async (t) => {
  const { url, role } = await startAuth(t, { ttl: 900 });
  const before = Date.now();
  const res = await post(`${url}/auth`, { user: 'admin', pass: 'admin-password' });
  assert.equal(res.status, 200);
  assert.match(res.body.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const expiresAt = Date.parse(res.body.expires_at);
  assert.ok(expiresAt >= before + 899_000 && expiresAt <= Date.now() + 900_000);
  const header = decodeProtectedHeader(res.body.token);
  assert.equal(header.alg, 'EdDSA');
  assert.equal(header.kid, role.jwks.keys[0]!.kid);
  const claims = decodeJwt(res.body.token);
  assert.equal(claims.iss, 'mombroker');
  assert.equal(claims.aud, 'mombroker');
  assert.equal(claims.sub, 'admin');
  assert.equal(claims.adm, true);
  assert.equal(claims.exp, Math.floor(expiresAt / 1000));
  assert.equal(typeof claims.jti, 'string');
  // Verifiable by anyone holding only the public JWKS.
  const principal = await createTokenVerifier({ jwks: role.jwks }).verify(`Bearer ${res.body.token}`);
  assert.equal(principal.username, 'admin');
});

test("POST /auth accepts MOM-py's username/password keys and carries grants", async (t) => {
  const { url, role } = await startAuth(t);
  await role.users.addUser('alice', 'alice-password');
  role.users.grant('alice', 'logs.*', ['publish', 'consume']);
  const res = await post(`${url}/auth`, { username: 'alice', password: 'alice-password' });
  assert.equal(res.status, 200);
  const claims = decodeJwt(res.body.token);
  assert.equal(claims.adm, false);
  assert.deepEqual(claims.grants, [{ exchange: 'logs.*', actions: ['publish', 'consume'] }]);
});

test('POST /auth with a wrong password or unknown user is 401 invalid_credentials', async (t) => {
  const { url } = await startAuth(t);
  for (const body of [
    { user: 'admin', pass: 'wrong-password' },
    { user: 'nobody', pass: 'admin-password' },
    { user: 'x'.repeat(5000), pass: 'admin-password' },
    { username: '../admin', password: 'admin-password' },
  ]) {
    const res = await post(`${url}/auth`, body);
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'invalid_credentials');
  }
});

test('POST /auth with a malformed body is 400 bad_request', async (t) => {
  const { url } = await startAuth(t);
  for (const body of ['{not json', '[]', '', JSON.stringify({ user: 'admin' }), JSON.stringify({ user: 1, pass: 'x' })]) {
    const res = await post(`${url}/auth`, body);
    assert.equal(res.status, 400, `body ${body}`);
    assert.equal(res.body.error.code, 'bad_request');
  }
});

test('POST /auth: after 5 wrong passwords from one address the next attempt waits, and Retry-After says how long', async (t) => {
  const { url } = await startAuth(t);
  for (let i = 0; i < 5; i++) {
    assert.equal((await post(`${url}/auth`, { user: 'admin', pass: `wrong-${i}` })).status, 401);
  }
  const started = Date.now();
  const blocked = await post(`${url}/auth`, { user: 'admin', pass: 'admin-password' });
  assert.equal(blocked.status, 429, 'refused without checking the password');
  assert.equal(blocked.body.error.code, 'too_many_requests');
  assert.equal(blocked.headers.get('retry-after'), '1', 'the first wait is 1 s');
  assert.equal(blocked.body.error.retry_after_ms, 1000);
  assert.match(blocked.body.error.message, /try again in 1 s/);
  // Once the wait is over the right password works.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + 1_050 - Date.now())));
  assert.equal((await post(`${url}/auth`, { user: 'admin', pass: 'admin-password' })).status, 200);
});

test('X-Forwarded-For is believed only with the cluster secret', async (t) => {
  const { url } = await startAuth(t, { clusterSecret: 'the-cluster-secret' });
  const from = (address: string, secret?: string) => ({ 'x-forwarded-for': `10.9.9.9, ${address}`, ...(secret ? { 'x-mom-cluster-secret': secret } : {}) });
  // A relay with the secret: failures count for the address it names, not for its own.
  for (let i = 0; i < 5; i++) {
    assert.equal((await post(`${url}/auth`, { user: 'admin', pass: `wrong-${i}` }, from('203.0.113.7', 'the-cluster-secret'))).status, 401);
  }
  assert.equal((await post(`${url}/auth`, { user: 'admin', pass: 'admin-password' }, from('203.0.113.7', 'the-cluster-secret'))).status, 429, 'that client waits');
  assert.equal((await post(`${url}/auth`, { user: 'admin', pass: 'admin-password' }, from('203.0.113.8', 'the-cluster-secret'))).status, 200, 'another client does not');
  // Without the secret (or with a wrong one) the header is ignored: the peer's address counts.
  for (let i = 0; i < 5; i++) {
    assert.equal((await post(`${url}/auth`, { user: 'admin', pass: `wrong-${i}` }, from(`198.51.100.${i}`, i % 2 === 0 ? undefined : 'wrong-secret'))).status, 401);
  }
  assert.equal((await post(`${url}/auth`, { user: 'admin', pass: 'admin-password' }, from('198.51.100.99'))).status, 429, 'forged headers all counted for 127.0.0.1');
});

test('POST /validate names the user of a valid token, 401 otherwise', async (t) => {
  const { url, role } = await startAuth(t);
  await role.users.addUser('alice', 'alice-password');
  role.users.grant('alice', 'logs', ['consume']);
  const { body } = await post(`${url}/auth`, { user: 'alice', pass: 'alice-password' });
  const ok = await post(`${url}/validate`, undefined, { authorization: `Bearer ${body.token}` });
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body, {
    user: { id: role.users.principal('alice')!.userId, username: 'alice', admin: false, grants: [{ exchange: 'logs', actions: ['consume'] }] },
  });

  const missing = await post(`${url}/validate`, undefined);
  assert.equal(missing.status, 401);
  assert.equal(missing.body.error.code, 'unauthorized');
  assert.equal(missing.headers.get('www-authenticate'), 'Bearer');
  const garbage = await post(`${url}/validate`, undefined, { authorization: 'Bearer abc.def.ghi' });
  assert.equal(garbage.status, 401);

  // The user database is live: removing alice invalidates her token at once.
  role.users.removeUser('alice');
  const removed = await post(`${url}/validate`, undefined, { authorization: `Bearer ${body.token}` });
  assert.equal(removed.status, 401);
  assert.equal(removed.body.error.reason, 'user_removed');
});

test('GET /.well-known/jwks.json serves only the public key', async (t) => {
  const { url, role } = await startAuth(t);
  const response = await fetch(`${url}/.well-known/jwks.json`);
  assert.equal(response.status, 200);
  const jwks = (await response.json()) as { keys: Record<string, unknown>[] };
  assert.deepEqual(jwks, role.jwks);
  assert.equal(jwks.keys.length, 1);
  const [key] = jwks.keys;
  assert.equal(key!.kty, 'OKP');
  assert.equal(key!.crv, 'Ed25519');
  assert.equal(key!.alg, 'EdDSA');
  assert.equal(key!.use, 'sig');
  assert.equal(typeof key!.kid, 'string');
  assert.equal('d' in key!, false);
});

test('the signing key survives a restart (same kid, old tokens still verify) and is mode 0600', async (t) => {
  const dataDir = tempDir(t);
  const first = await startAuth(t, { dataDir });
  const { body } = await post(`${first.url}/auth`, { user: 'admin', pass: 'admin-password' });
  await first.role.close();
  const second = await startAuth(t, { dataDir });
  assert.deepEqual(second.role.jwks, first.role.jwks);
  const ok = await post(`${second.url}/validate`, undefined, { authorization: `Bearer ${body.token}` });
  assert.equal(ok.status, 200);
  assert.equal(statSync(join(dataDir, 'auth', 'signing-key.json')).mode & 0o777, 0o600);
});

test('first start with MOM_ADMIN_PASSWORD creates admin with it and writes no password file', async (t) => {
  const { dataDir, role } = await startAuth(t, { env: { MOM_ADMIN_PASSWORD: 'from-the-env' } });
  assert.equal((await role.users.verifyPassword('admin', 'from-the-env'))?.admin, true);
  assert.equal(existsSync(join(dataDir, 'initial-admin-password')), false);
});

test('first start without MOM_ADMIN_PASSWORD writes a random password file once and names it, never the password', async (t) => {
  const dataDir = tempDir(t);
  const first = await startAuth(t, { dataDir, env: {} });
  const file = join(dataDir, 'initial-admin-password');
  const password = readFileSync(file, 'utf8').trim();
  assert.match(password, /^[A-Za-z0-9_-]{20,}$/);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal((await first.role.users.verifyPassword('admin', password))?.admin, true);
  const warning = first.logLines.map((line) => JSON.parse(line)).find((record) => record.level === 'warn');
  assert.ok(warning, 'a warning names the password file');
  assert.equal(warning.passwordFile, file);
  assert.ok(!first.logLines.join('').includes(password), 'the password itself is never logged');

  // A restart with users present changes nothing, even after admin is removed.
  await first.role.users.addUser('alice', 'alice-password');
  first.role.users.removeUser('admin');
  await first.role.close();
  const second = await startAuth(t, { dataDir, env: { MOM_ADMIN_PASSWORD: 'another-password' } });
  assert.equal(second.role.users.principal('admin'), undefined);
  assert.equal(readFileSync(file, 'utf8').trim(), password);
});

test('an existing password file is reused, never overwritten', async (t) => {
  const dataDir = tempDir(t);
  writeFileSync(join(dataDir, 'initial-admin-password'), 'chosen-before-start\n', { mode: 0o600 });
  const { role } = await startAuth(t, { dataDir, env: {} });
  assert.equal(readFileSync(join(dataDir, 'initial-admin-password'), 'utf8'), 'chosen-before-start\n');
  assert.equal((await role.users.verifyPassword('admin', 'chosen-before-start'))?.admin, true);
});

test('a database that already has users gets no admin', async (t) => {
  const dataDir = tempDir(t);
  const db = new UserDatabase(dataDir);
  await db.addUser('alice', 'alice-password');
  db.close();
  const { role } = await startAuth(t, { dataDir, env: {} });
  assert.deepEqual(role.users.listUsers().map((user) => user.username), ['alice']);
  assert.equal(existsSync(join(dataDir, 'initial-admin-password')), false);
});

test('close is idempotent', async (t) => {
  const { role } = await startAuth(t);
  await role.close();
  await role.close();
  assert.throws(() => role.users.listUsers(), { code: 'unavailable' });
});

test('GET /v1/users lists users and grants to an admin, never a password hash; 403 for others, 401 without a token', async (t) => {
  const { url, role } = await startAuth(t);
  await role.users.addUser('alice', 'alice-password');
  role.users.grant('alice', 'shop.*', ['publish', 'consume']);
  const admin = (await post(`${url}/auth`, { user: 'admin', pass: 'admin-password' })).body.token as string;
  const alice = (await post(`${url}/auth`, { user: 'alice', pass: 'alice-password' })).body.token as string;

  const listed = await fetch(`${url}/v1/users`, { headers: { authorization: `Bearer ${admin}` } });
  assert.equal(listed.status, 200);
  assert.equal(listed.headers.get('cache-control'), 'no-store');
  const text = await listed.text();
  assert.doesNotMatch(text, /scrypt|password|token_epoch/, 'no secret and no epoch in the list');
  const { users } = JSON.parse(text) as { users: Array<{ id: number; username: string; admin: boolean; created_at: string; grants: unknown[] }> };
  assert.deepEqual(
    users.map(({ username, admin: isAdmin, grants }) => ({ username, isAdmin, grants })),
    [
      { username: 'admin', isAdmin: true, grants: [] },
      { username: 'alice', isAdmin: false, grants: [{ exchange: 'shop.*', actions: ['publish', 'consume'] }] },
    ],
  );
  assert.ok(users.every((user) => typeof user.id === 'number' && !Number.isNaN(Date.parse(user.created_at))));

  const refused = await fetch(`${url}/v1/users`, { headers: { authorization: `Bearer ${alice}` } });
  assert.equal(refused.status, 403);
  const refusal = (await refused.json()) as { error: { code: string; message: string } };
  assert.equal(refusal.error.code, 'forbidden');
  assert.match(refusal.error.message, /admin/);
  assert.equal((await fetch(`${url}/v1/users`)).status, 401);
});

test('/metrics: logins, refusals by reason and validations are counted', async (t) => {
  const metrics = new Metrics({ processMetrics: false });
  const { url } = await startAuth(t, { metrics });
  const ok = await post(`${url}/auth`, { user: 'admin', pass: 'admin-password' });
  assert.equal(ok.status, 200);
  assert.equal((await post(`${url}/auth`, { user: 'admin', pass: 'wrong' })).status, 401);
  assert.equal((await post(`${url}/auth`, { user: 'nobody', pass: 'wrong' })).status, 401);
  assert.equal((await post(`${url}/auth`, '{"user":')).status, 400);
  assert.equal((await post(`${url}/validate`, '', { authorization: `Bearer ${ok.body.token}` })).status, 200);
  assert.equal((await post(`${url}/validate`, '', { authorization: 'Bearer nope' })).status, 401);
  const scraped = parsePrometheusText(await metrics.render());
  assert.deepEqual(conventionProblems(scraped), []);
  assert.equal(value(scraped, 'mom_auth_logins_total'), 1);
  assert.equal(value(scraped, 'mom_auth_login_refusals_total', { reason: 'invalid_credentials' }), 2);
  assert.equal(value(scraped, 'mom_auth_login_refusals_total', { reason: 'bad_request' }), 1);
  assert.equal(value(scraped, 'mom_auth_login_refusals_total', { reason: 'throttled' }), 0);
  assert.equal(value(scraped, 'mom_auth_validations_total', { outcome: 'valid' }), 1);
  assert.equal(value(scraped, 'mom_auth_validations_total', { outcome: 'refused' }), 1);
});
