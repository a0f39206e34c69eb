import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { base64url, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { MomError } from '../../src/core/errors';
import type { Principal } from '../../src/core/permissions';
import { createTokenVerifier } from '../../src/http/token-verifier';
import { loadOrCreateSigningKey, type SigningKey } from '../../src/roles/auth/signing-key';
import { TokenIssuer } from '../../src/roles/auth/token-issuer';

const alice: Principal = { userId: 7, username: 'alice', admin: false, grants: [{ exchange: 'logs.*', actions: ['publish'] }] };

async function signingKey(t: TestContext): Promise<SigningKey> {
  const dir = mkdtempSync(join(tmpdir(), 'mom-verifier-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return loadOrCreateSigningKey(dir);
}

function unauthorized(reason?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof MomError, `expected a MomError, got ${String(error)}`);
    assert.equal(error.code, 'unauthorized');
    if (reason !== undefined) assert.equal(error.details?.reason, reason);
    return true;
  };
}

function encode(value: unknown): string {
  return base64url.encode(JSON.stringify(value));
}

/** Claims as the issuer makes them, for hand-made tokens. */
function claims(overrides: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return { iss: 'mombroker', aud: 'mombroker', sub: 'alice', uid: 7, adm: false, grants: alice.grants, iat: now, exp: now + 600, ...overrides };
}

test('a token from the issuer verifies to its principal', async (t) => {
  const key = await signingKey(t);
  const { token, expiresAt } = await new TokenIssuer(key, { ttlSeconds: 600 }).issue(alice);
  assert.ok(Math.abs(expiresAt.getTime() - (Date.now() + 600_000)) < 5_000);
  const verifier = createTokenVerifier({ jwks: key.jwks });
  assert.deepEqual(await verifier.verify(`Bearer ${token}`), alice);
  // Served from the cache the second time: same answer.
  assert.deepEqual(await verifier.verify(`Bearer ${token}`), alice);
});

test('a missing or malformed Authorization header is 401', async (t) => {
  const key = await signingKey(t);
  const verifier = createTokenVerifier({ jwks: key.jwks });
  await assert.rejects(verifier.verify(undefined), unauthorized('token_missing'));
  await assert.rejects(verifier.verify('Basic YWxpY2U6cHc='), unauthorized('token_malformed'));
  await assert.rejects(verifier.verify('Bearer not-a-jwt'), unauthorized('token_invalid'));
});

test('an alg:none token is 401', async (t) => {
  const key = await signingKey(t);
  const verifier = createTokenVerifier({ jwks: key.jwks });
  const token = `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims())}.`;
  await assert.rejects(verifier.verify(`Bearer ${token}`), unauthorized('token_invalid'));
  const withKid = `${encode({ alg: 'none', typ: 'JWT', kid: key.kid })}.${encode(claims({ adm: true }))}.`;
  await assert.rejects(verifier.verify(`Bearer ${withKid}`), unauthorized('token_invalid'));
});

test('a token signed by another Ed25519 key is 401, even with the right kid', async (t) => {
  const key = await signingKey(t);
  const verifier = createTokenVerifier({ jwks: key.jwks });
  const other = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  for (const kid of [key.kid, 'some-other-kid']) {
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'EdDSA', kid }).sign(other.privateKey);
    await assert.rejects(verifier.verify(`Bearer ${token}`), unauthorized('token_invalid'));
  }
});

test('a token whose payload was changed is 401', async (t) => {
  const key = await signingKey(t);
  const verifier = createTokenVerifier({ jwks: key.jwks });
  const { token } = await new TokenIssuer(key, { ttlSeconds: 600 }).issue(alice);
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const changed = { ...(JSON.parse(new TextDecoder().decode(base64url.decode(payload))) as JWTPayload), adm: true };
  await assert.rejects(verifier.verify(`Bearer ${header}.${encode(changed)}.${signature}`), unauthorized('token_invalid'));
  // The original still works: the failure was the change, not the key.
  assert.equal((await verifier.verify(`Bearer ${token}`)).admin, false);
});

test('an expired token is 401 with reason token_expired; small skew is tolerated', async (t) => {
  const key = await signingKey(t);
  const verifier = createTokenVerifier({ jwks: key.jwks });
  const hourAgo = Date.now() - 3_600_000;
  const { token } = await new TokenIssuer(key, { ttlSeconds: 60, now: () => hourAgo }).issue(alice);
  await assert.rejects(verifier.verify(`Bearer ${token}`), (error: unknown) => {
    unauthorized('token_expired')(error);
    assert.match((error as MomError).message, /token expired: log in again with POST \/auth/);
    return true;
  });
  const now = Math.floor(Date.now() / 1000);
  const justExpired = await new SignJWT(claims({ iat: now - 60, exp: now - 10 }))
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid })
    .sign(key.privateKey);
  assert.equal((await verifier.verify(`Bearer ${justExpired}`)).username, 'alice');
});

test('an HS256 token keyed with the public key bytes is 401', async (t) => {
  const key = await signingKey(t);
  const verifier = createTokenVerifier({ jwks: key.jwks });
  const publicBytes = base64url.decode(key.publicJwk.x!);
  const publicJson = new TextEncoder().encode(JSON.stringify(key.jwks.keys[0]));
  for (const secret of [publicBytes, publicJson]) {
    const token = await new SignJWT(claims({ adm: true })).setProtectedHeader({ alg: 'HS256', kid: key.kid }).sign(secret);
    await assert.rejects(verifier.verify(`Bearer ${token}`), unauthorized('token_invalid'));
  }
});

test('wrong issuer or audience, or missing mombroker claims, is 401', async (t) => {
  const key = await signingKey(t);
  const verifier = createTokenVerifier({ jwks: key.jwks });
  const sign = (payload: JWTPayload) => new SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', kid: key.kid }).sign(key.privateKey);
  await assert.rejects(verifier.verify(`Bearer ${await sign(claims({ iss: 'someone-else' }))}`), unauthorized('token_invalid'));
  await assert.rejects(verifier.verify(`Bearer ${await sign(claims({ aud: 'other-service' }))}`), unauthorized('token_invalid'));
  await assert.rejects(verifier.verify(`Bearer ${await sign(claims({ uid: 'seven' }))}`), unauthorized('token_invalid'));
  await assert.rejects(verifier.verify(`Bearer ${await sign(claims({ grants: [{ exchange: 'x', actions: ['rm'] }] }))}`), unauthorized('token_invalid'));
});

test('with principalLookup, grants are live and a removed or replaced user is 401', async (t) => {
  const key = await signingKey(t);
  const { token } = await new TokenIssuer(key, { ttlSeconds: 600 }).issue(alice);
  const live = new Map<string, Principal>([['alice', { ...alice, grants: [{ exchange: 'billing', actions: ['consume'] }] }]]);
  const verifier = createTokenVerifier({ jwks: key.jwks }, { principalLookup: (name) => live.get(name) });
  assert.deepEqual((await verifier.verify(`Bearer ${token}`)).grants, [{ exchange: 'billing', actions: ['consume'] }]);
  live.set('alice', { ...alice, userId: 8 });
  await assert.rejects(verifier.verify(`Bearer ${token}`), unauthorized('user_removed'));
  live.delete('alice');
  await assert.rejects(verifier.verify(`Bearer ${token}`), unauthorized('user_removed'));
});

test('a remote JWKS is fetched once and cached; a fetch failure is 503 unavailable, not 401', async (t) => {
  const key = await signingKey(t);
  let fetches = 0;
  let up = true;
  const server = createServer((req, res) => {
    fetches++;
    if (!up || req.url !== '/.well-known/jwks.json') {
      res.writeHead(503).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(key.jwks));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = new TokenIssuer(key, { ttlSeconds: 600 });

  const verifier = createTokenVerifier({ jwksUrl: `${base}/.well-known/jwks.json` });
  assert.equal((await verifier.verify(`Bearer ${(await issuer.issue(alice)).token}`)).username, 'alice');
  assert.equal((await verifier.verify(`Bearer ${(await issuer.issue({ ...alice, username: 'bob' })).token}`)).username, 'bob');
  assert.equal(fetches, 1);

  up = false;
  const cold = createTokenVerifier({ jwksUrl: `${base}/.well-known/jwks.json` });
  await assert.rejects(cold.verify(`Bearer ${(await issuer.issue(alice)).token}`), (error: unknown) => {
    assert.ok(error instanceof MomError);
    assert.equal(error.code, 'unavailable');
    assert.equal(error.retryable, true);
    return true;
  });
});

test('createTokenVerifier refuses a JWKS URL that is not http(s)', () => {
  for (const jwksUrl of ['auth:7000', 'not a url', 'ftp://auth/jwks.json']) {
    assert.throws(() => createTokenVerifier({ jwksUrl }), (error: unknown) => error instanceof MomError && error.code === 'config_invalid');
  }
});
