/**
 * DESIGN §7/§8 authentication and authorization, against the real process: every /v1 route
 * (and MOM-py's `POST /` and `POST /send`) refuses a missing, malformed, unsigned, foreign,
 * tampered or expired token with 401; a user without a grant gets 403; grants are per action
 * and exchange pattern and take effect at once; passwords are scrypt hashes; the signing key
 * and the user database are private files.
 */
import assert from 'node:assert/strict';
import { scryptSync, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { base64url, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload, type KeyLike } from 'jose';
import { login, startBroker, type RunningBroker } from '../helpers/broker';
import { waitFor } from '../helpers/wait';
import { adminApi, addUser, Api, expectError, runCli, uniqueName, type ApiResponse } from '../helpers/http-api';

interface Route {
  method: string;
  path: string;
  body?: unknown;
}

/** Every route that needs a token, with bodies that would succeed with a good one. */
function protectedRoutes(exchange: string): Route[] {
  const ex = `/v1/exchanges/${exchange}`;
  const q = `${ex}/queues/q`;
  const tp = `${ex}/topics/t`;
  const s = `${tp}/subscriptions/s`;
  const mompy = { operation: 'push', type: 'q', data: { headers: { exchange, routing_key: 'q', message_date: new Date().toISOString() }, body: 'x' } };
  return [
    { method: 'GET', path: '/v1/exchanges' },
    { method: 'PUT', path: ex },
    { method: 'DELETE', path: `${ex}?force=true` },
    { method: 'PUT', path: q, body: {} },
    { method: 'GET', path: q },
    { method: 'DELETE', path: q },
    { method: 'POST', path: `${q}/messages`, body: { payload: 'nope' } },
    { method: 'GET', path: `${q}/messages?max=10` },
    { method: 'POST', path: `${q}/ack`, body: { ids: ['m'] } },
    { method: 'POST', path: `${q}/nack`, body: { ids: ['m'] } },
    { method: 'GET', path: `${q}/dead-letters` },
    { method: 'PUT', path: tp, body: {} },
    { method: 'DELETE', path: tp },
    { method: 'POST', path: `${tp}/messages`, body: { payload: 'nope' } },
    { method: 'PUT', path: s, body: { from: 'earliest' } },
    { method: 'GET', path: s },
    { method: 'DELETE', path: s },
    { method: 'GET', path: `${s}/messages` },
    { method: 'POST', path: `${s}/ack`, body: { ids: ['m'] } },
    { method: 'POST', path: `${s}/nack`, body: { ids: ['m'] } },
    { method: 'GET', path: `${s}/dead-letters` },
    { method: 'POST', path: '/', body: mompy },
    { method: 'POST', path: '/send', body: mompy },
    { method: 'POST', path: '/validate' },
  ];
}

function decodePart(part: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function encodePart(value: unknown): string {
  return base64url.encode(JSON.stringify(value));
}

/** The broker's own private key, read from its data dir: the only way to sign "valid" tokens from a test. */
async function brokerSigningKey(broker: RunningBroker): Promise<{ key: KeyLike; kid: string; publicX: string }> {
  const jwk = JSON.parse(readFileSync(join(broker.dataDir, 'auth', 'signing-key.json'), 'utf8')) as JWK;
  const jwks = (await (await fetch(`${broker.url}/.well-known/jwks.json`)).json()) as { keys: Array<JWK & { kid: string }> };
  assert.equal(jwks.keys.length, 1);
  assert.equal(jwks.keys[0]!.x, jwk.x, 'the JWKS publishes the key in the data dir');
  const key = (await importJWK({ kty: 'OKP', crv: 'Ed25519', x: jwk.x, d: jwk.d }, 'EdDSA')) as KeyLike;
  return { key, kid: jwks.keys[0]!.kid, publicX: jwk.x! };
}

function claims(overrides: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return { iss: 'mombroker', aud: 'mombroker', sub: 'admin', uid: 1, adm: true, grants: [], iat: now, exp: now + 600, ...overrides };
}

async function sign(key: KeyLike | Uint8Array, payload: JWTPayload, header: Record<string, unknown>): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', ...header }).sign(key);
}

async function send(api: Api, route: Route, authorization: string): Promise<ApiResponse> {
  return api.call(route.method, route.path, route.body, { authorization });
}

// Two at a time: the expiry test mostly waits (ttl + the verifier's clock skew), so the others
// run beside it instead of after it.
describe('authentication and authorization', { concurrency: 2 }, () => {
  it('tokens expire: a broker with --token-ttl-seconds 10 stops accepting its token', { timeout: 90_000 }, async (t) => {
    const broker = await startBroker(t, { args: ['--token-ttl-seconds', '10'] });
    const issuedAt = Date.now();
    const response = await fetch(`${broker.url}/auth`, { method: 'POST', body: JSON.stringify({ user: 'admin', pass: broker.adminPassword }) });
    const { token, expires_at: expiresAt } = (await response.json()) as { token: string; expires_at: string };
    const lifetime = Date.parse(expiresAt) - issuedAt;
    assert.ok(lifetime > 8_000 && lifetime <= 11_000, `expires_at is ~10 s ahead (${lifetime} ms)`);
    const payload = decodePart(token.split('.')[1]!);
    assert.equal((payload.exp as number) - (payload.iat as number), 10);

    const api = new Api(broker.url, token);
    assert.equal((await api.get('/v1/exchanges')).status, 200);
    // Bounded: the verifier allows a clock skew (30 s) past exp, so allow ttl + skew + margin.
    const rejected = await waitFor(
      'the token to expire',
      async () => {
        const answer = await api.get('/v1/exchanges');
        return answer.status === 401 ? answer : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, retryErrors: true },
    );
    const rejectedAfter = Date.now() - issuedAt;
    assert.ok(rejected);
    assert.ok(rejectedAfter >= 10_000, `not rejected before it expired (${rejectedAfter} ms)`);
    expectError(rejected, 401, 'unauthorized', 'expired token');
    assert.equal(rejected.body.error.reason, 'token_expired');
    // A new login works again.
    const fresh = new Api(broker.url, await login(broker.url, 'admin', broker.adminPassword));
    assert.equal((await fresh.get('/v1/exchanges')).status, 200);
  });

  it('every protected route refuses a missing, malformed, unsigned, foreign, tampered or expired token', async (t) => {
    const broker = await startBroker(t);
    const admin = await adminApi(broker);
    const exchange = uniqueName('sec');
    await admin.declareExchange(exchange);
    await admin.declareQueue(exchange, 'q');
    await admin.declareTopic(exchange, 't');
    await admin.subscribe(exchange, 't', 's');
    const [stored] = await admin.publish(`/v1/exchanges/${exchange}/queues/q`, [{ payload: 'must survive' }]);
    const alice = await addUser(broker, 'alice', 'alice-password-1', [{ exchange: 'logs.*', allow: ['publish'] }]);

    const real = await brokerSigningKey(broker);
    const adminId = (await admin.post('/validate')).body.user.id as number;
    const aliceClaims = decodePart(alice.token!.split('.')[1]!);
    assert.equal(aliceClaims.adm, false);
    const foreign = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const [aliceHeader, , aliceSignature] = alice.token!.split('.');
    const now = Math.floor(Date.now() / 1000);

    const badTokens: Array<[string, string, string | undefined]> = [
      ['no Authorization header', '', 'token_missing'],
      ['garbage bearer', 'Bearer not-a-token', undefined],
      ['basic auth', `Basic ${Buffer.from(`admin:${broker.adminPassword}`).toString('base64')}`, 'token_malformed'],
      ['bearer without token', 'Bearer ', undefined],
      ['alg none', `Bearer ${encodePart({ alg: 'none', typ: 'JWT' })}.${encodePart(claims({ uid: adminId }))}.`, undefined],
      [
        'HS256 with the public key as secret',
        `Bearer ${await new SignJWT(claims({ uid: adminId })).setProtectedHeader({ alg: 'HS256', kid: real.kid }).sign(Buffer.from(real.publicX, 'base64url'))}`,
        'token_invalid',
      ],
      ['another Ed25519 key, the broker kid', `Bearer ${await sign(foreign.privateKey, claims({ uid: adminId }), { kid: real.kid })}`, 'token_invalid'],
      ['another Ed25519 key, no kid', `Bearer ${await sign(foreign.privateKey, claims({ uid: adminId }), {})}`, 'token_invalid'],
      ['payload changed to adm:true', `Bearer ${aliceHeader}.${encodePart({ ...aliceClaims, adm: true })}.${aliceSignature}`, 'token_invalid'],
      ['payload changed to admin', `Bearer ${aliceHeader}.${encodePart({ ...aliceClaims, sub: 'admin', uid: adminId })}.${aliceSignature}`, 'token_invalid'],
      ['expired (signed by the broker key)', `Bearer ${await sign(real.key, claims({ uid: adminId, iat: now - 7200, exp: now - 3600 }), { kid: real.kid })}`, 'token_expired'],
      ['other issuer', `Bearer ${await sign(real.key, claims({ uid: adminId, iss: 'someone-else' }), { kid: real.kid })}`, 'token_invalid'],
      ['other audience', `Bearer ${await sign(real.key, claims({ uid: adminId, aud: 'other-service' }), { kid: real.kid })}`, 'token_invalid'],
      ['no expiry', `Bearer ${await sign(real.key, { ...claims({ uid: adminId }), exp: undefined }, { kid: real.kid })}`, 'token_invalid'],
      ['user that does not exist', `Bearer ${await sign(real.key, claims({ sub: 'mallory', uid: 999 }), { kid: real.kid })}`, 'user_removed'],
    ];

    for (const route of protectedRoutes(exchange)) {
      for (const [what, authorization, reason] of badTokens) {
        const response = await send(admin, route, authorization);
        const label = `${route.method} ${route.path} with ${what}`;
        expectError(response, 401, 'unauthorized', label);
        assert.equal(response.headers.get('www-authenticate'), 'Bearer', `${label}: WWW-Authenticate`);
        if (reason !== undefined) assert.equal(response.body.error.reason, reason, `${label}: reason`);
        assert.ok(!response.text.includes('must survive'), `${label}: no message content leaks`);
      }
    }

    // None of those requests did anything: the message, queue, topic and subscription are all there.
    const [message] = await admin.pull(`/v1/exchanges/${exchange}/queues/q`);
    assert.equal(message?.id, stored);
    assert.equal((await admin.get(`/v1/exchanges/${exchange}/topics/t/subscriptions/s`)).status, 200);

    // A token signed by the right key is trusted for identity only: alice's grants come from the
    // user database, so claiming adm:true does not make her an admin.
    const forgedAdmin = await sign(real.key, { ...aliceClaims, adm: true, grants: [{ exchange: '*', actions: ['publish', 'consume', 'configure'] }] }, { kid: real.kid });
    const asForged = new Api(broker.url, forgedAdmin);
    expectError(await asForged.put(`/v1/exchanges/${exchange}/queues/q2`), 403, 'forbidden', 'claims beyond the user database');
    expectError(await asForged.get(`/v1/exchanges/${exchange}/queues/q/messages`), 403, 'forbidden', 'claims beyond the user database');

    // Open routes stay open.
    assert.equal((await fetch(`${broker.url}/health`)).status, 200);
    const jwks = await (await fetch(`${broker.url}/.well-known/jwks.json`)).json();
    assert.ok(!JSON.stringify(jwks).includes('"d"'), 'the JWKS holds no private key');
  });

  it('grants: none gives 403; publish on logs.* publishes to logs.app only; changes apply at once', async (t) => {
    const broker = await startBroker(t);
    const admin = await adminApi(broker);
    for (const exchange of ['logs.app', 'logs', 'billing']) {
      await admin.declareExchange(exchange);
      await admin.declareQueue(exchange, 'q');
      await admin.declareTopic(exchange, 't');
    }
    const nobody = await addUser(broker, 'nobody', 'nobody-password');
    const logger = await addUser(broker, 'logger', 'logger-password', [{ exchange: 'logs.*', allow: ['publish'] }]);
    const appQueue = '/v1/exchanges/logs.app/queues/q';

    // No grants at all.
    expectError(await nobody.post(`${appQueue}/messages`, { payload: 1 }), 403, 'forbidden', 'publish without grant');
    expectError(await nobody.get(`${appQueue}/messages`), 403, 'forbidden', 'pull without grant');
    expectError(await nobody.post(`${appQueue}/ack`, { ids: ['x'] }), 403, 'forbidden', 'ack without grant');
    expectError(await nobody.get(appQueue), 403, 'forbidden', 'stats without grant');
    expectError(await nobody.put('/v1/exchanges/mine'), 403, 'forbidden', 'declare exchange without grant');
    expectError(await nobody.delete('/v1/exchanges/logs.app?force=true'), 403, 'forbidden', 'delete exchange without grant');
    const listed = await nobody.get('/v1/exchanges');
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.exchanges, [], 'exchanges the user has no grant on are not listed');

    // publish on logs.*: logs.app yes (queue and topic), consume no, configure no, `logs` and `billing` no.
    const [published] = await logger.publish(appQueue, [{ payload: 'app log line' }]);
    assert.equal((await logger.post('/v1/exchanges/logs.app/topics/t/messages', { payload: 'to topic' })).status, 201);
    expectError(await logger.get(`${appQueue}/messages`), 403, 'forbidden', 'pull with a publish grant');
    expectError(await logger.post(`${appQueue}/ack`, { ids: [published] }), 403, 'forbidden', 'ack with a publish grant');
    expectError(await logger.post(`${appQueue}/nack`, { ids: [published] }), 403, 'forbidden', 'nack with a publish grant');
    expectError(await logger.get(`${appQueue}/dead-letters`), 403, 'forbidden', 'dead letters with a publish grant');
    expectError(await logger.put('/v1/exchanges/logs.app/queues/other'), 403, 'forbidden', 'declare with a publish grant');
    expectError(await logger.delete(appQueue), 403, 'forbidden', 'delete with a publish grant');
    expectError(await logger.put('/v1/exchanges/logs.app/topics/t/subscriptions/logger'), 403, 'forbidden', 'subscribe with a publish grant');
    expectError(await logger.post('/v1/exchanges/logs/queues/q/messages', { payload: 1 }), 403, 'forbidden', 'logs.* does not match logs');
    expectError(await logger.post('/v1/exchanges/billing/queues/q/messages', { payload: 1 }), 403, 'forbidden', 'publish on another exchange');
    expectError(
      await logger.post('/send', { operation: 'pull', type: 'q', data: { headers: { exchange: 'logs.app', routing_key: 'q' } } }),
      403,
      'forbidden',
      'MOM-py pull with a publish grant',
    );
    assert.deepEqual(
      (await logger.get('/v1/exchanges')).body.exchanges.map((e: { name: string }) => e.name),
      ['logs.app'],
    );

    // Granting consume on the running broker works for the token already held; revoking takes it back.
    await runCli(['users', 'grant', 'logger', '--exchange', 'logs.app', '--allow', 'consume', '--data', broker.dataDir]);
    const [pulled] = await logger.pull(appQueue);
    assert.equal(pulled?.id, published);
    assert.equal(pulled?.payload, 'app log line');
    assert.deepEqual(await logger.ack(appQueue, [published!]), { acked: 1, unknown: [] });
    await runCli(['users', 'revoke', 'logger', '--exchange', 'logs.app', '--data', broker.dataDir]);
    expectError(await logger.get(`${appQueue}/messages`), 403, 'forbidden', 'pull after revoke');

    // A removed user's token stops working.
    await runCli(['users', 'remove', 'nobody', '--data', broker.dataDir]);
    expectError(await nobody.get('/v1/exchanges'), 401, 'unauthorized', 'token of a removed user');
  });

  it('logins, password storage and secret files', async (t) => {
    const broker = await startBroker(t);
    const password = `pw-${uniqueName('carol')}-secret`;
    await addUser(broker, 'carol', password);

    const wrong = await fetch(`${broker.url}/auth`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'carol', pass: 'wrong-password' }) });
    const wrongBody = (await wrong.json()) as { error: { code: string; message: string }; token?: string };
    assert.equal(wrong.status, 401);
    assert.equal(wrongBody.error.code, 'invalid_credentials');
    assert.equal(wrongBody.token, undefined);
    const unknown = await fetch(`${broker.url}/auth`, { method: 'POST', body: JSON.stringify({ user: 'nobody-here', pass: 'whatever-pw' }) });
    assert.equal(unknown.status, 401);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'invalid_credentials', 'unknown user: same answer');
    const malformed = await fetch(`${broker.url}/auth`, { method: 'POST', body: '{"user":' });
    assert.equal(malformed.status, 400);
    await malformed.arrayBuffer();

    const good = await fetch(`${broker.url}/auth`, { method: 'POST', body: JSON.stringify({ user: 'carol', pass: password }) });
    const goodBody = (await good.json()) as { token: string; expires_at: string };
    assert.equal(good.status, 200);
    assert.match(goodBody.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    const validated = await fetch(`${broker.url}/validate`, { method: 'POST', headers: { authorization: `Bearer ${goodBody.token}` } });
    assert.equal(validated.status, 200);
    const who = (await validated.json()) as { user: { id: number; username: string } };
    assert.equal(who.user.username, 'carol');
    assert.equal(typeof who.user.id, 'number');

    // Stored as scrypt$N$r$p$salt$hash, which recomputes from the password; the plaintext is nowhere.
    const dbPath = join(broker.dataDir, 'auth', 'users.db');
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    let rows: Array<{ username: string; password_hash: string }>;
    try {
      rows = db.prepare('SELECT username, password_hash FROM users ORDER BY id').all() as typeof rows;
    } finally {
      db.close();
    }
    assert.deepEqual(rows.map((r) => r.username), ['admin', 'carol']);
    for (const [row, plain] of [[rows[0]!, broker.adminPassword], [rows[1]!, password]] as const) {
      const match = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/]+=*)\$([A-Za-z0-9+/]+=*)$/.exec(row.password_hash);
      assert.ok(match, `${row.username}: hash format ${row.password_hash.slice(0, 20)}…`);
      const [, n, r, p, salt, hash] = match;
      assert.ok(Number(n) >= 16384, 'scrypt N is at least 2^14');
      assert.ok(!row.password_hash.includes(plain));
      const expected = Buffer.from(hash!, 'base64');
      const actual = scryptSync(plain.normalize('NFC'), Buffer.from(salt!, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: 64 * 1024 * 1024 });
      assert.ok(timingSafeEqual(actual, expected), `${row.username}: the hash is scrypt of the password`);
    }
    assert.notEqual(rows[0]!.password_hash.split('$')[4], rows[1]!.password_hash.split('$')[4], 'salts differ');
    for (const file of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) {
      if (!existsSync(file)) continue;
      const bytes = readFileSync(file);
      assert.ok(!bytes.includes(password), `${file} does not contain the plaintext password`);
      assert.ok(!bytes.includes(broker.adminPassword), `${file} does not contain the admin password`);
    }
    assert.ok(!broker.stderr().includes(password), 'the log does not contain the password');

    // Secret files are private.
    assert.equal(statSync(join(broker.dataDir, 'auth', 'signing-key.json')).mode & 0o777, 0o600);
    assert.equal(statSync(dbPath).mode & 0o777, 0o600);
    assert.equal(statSync(join(broker.dataDir, 'auth')).mode & 0o077, 0, 'auth dir is private');
    assert.ok(!existsSync(join(broker.dataDir, 'initial-admin-password')), 'no password file when MOM_ADMIN_PASSWORD is given');
  });
});
