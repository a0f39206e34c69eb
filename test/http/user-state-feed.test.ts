/**
 * src/http/user-state-feed.ts: verifiers in other processes than the auth role learn of password
 * changes, removals and grant changes within one poll of GET /internal/user-state.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { MomError } from '../../src/core/errors';
import { HttpServer } from '../../src/http/server';
import { createTokenVerifier } from '../../src/http/token-verifier';
import { UserStateFeed } from '../../src/http/user-state-feed';
import { startAuthRole } from '../../src/roles/auth/auth-role';
import { silentLogger } from '../../src/runtime/logger';
import { UserDatabase } from '../../src/store/user-database';

const POLL_MS = 200;

async function startAuth(t: TestContext, options: { clusterSecret?: string; serveUserState?: boolean } = {}): Promise<{ url: string; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mom-user-state-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const role = await startAuthRole({
    dataDir,
    tokenTtlSeconds: 600,
    logger: silentLogger,
    env: { MOM_ADMIN_PASSWORD: 'admin-password' },
    serveUserState: options.serveUserState ?? true,
    ...(options.clusterSecret ? { clusterSecret: options.clusterSecret } : {}),
  });
  const server = new HttpServer({ host: '127.0.0.1', port: 0, logger: silentLogger }).mount(role.router);
  await server.start();
  t.after(async () => {
    await server.close();
    await role.close();
  });
  return { url: server.url(), dataDir };
}

async function token(url: string, user: string, pass: string): Promise<string> {
  const response = await fetch(`${url}/auth`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, pass }) });
  assert.equal(response.status, 200);
  return ((await response.json()) as { token: string }).token;
}

function remoteVerifier(t: TestContext, url: string, clusterSecret?: string) {
  const feed = new UserStateFeed({ authUrl: url, logger: silentLogger, pollMs: POLL_MS, ...(clusterSecret ? { clusterSecret } : {}) });
  t.after(() => feed.close());
  return createTokenVerifier({ jwksUrl: `${url}/.well-known/jwks.json` }, { userState: feed });
}

async function refusedWithin(verify: () => Promise<unknown>, reason: string, boundMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      await verify();
    } catch (error) {
      assert.ok(error instanceof MomError && error.code === 'unauthorized', String(error));
      assert.equal(error.details?.reason, reason);
      return Date.now() - started;
    }
    assert.ok(Date.now() - started < boundMs, `still accepted after ${boundMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('a remote verifier refuses tokens from before a password change, and of a removed user, within one poll', async (t) => {
  const { url, dataDir } = await startAuth(t);
  const users = new UserDatabase(dataDir);
  t.after(() => users.close());
  await users.addUser('alice', 'alice-password-1');
  users.grant('alice', 'logs', ['publish']);
  const verifier = remoteVerifier(t, url);
  const old = `Bearer ${await token(url, 'alice', 'alice-password-1')}`;
  assert.deepEqual((await verifier.verify(old)).grants, [{ exchange: 'logs', actions: ['publish'] }]);
  assert.equal(await verifier.userExists('alice'), true);
  assert.equal(await verifier.userExists('mallory'), false);

  // Grants are the live ones, not the token's.
  users.grant('alice', 'billing', ['consume']);
  const start = Date.now();
  for (;;) {
    if ((await verifier.verify(old)).grants.length === 2) break;
    assert.ok(Date.now() - start < POLL_MS * 10, 'the new grant is seen within a few polls');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  await users.setPassword('alice', 'alice-password-2');
  const took = await refusedWithin(() => verifier.verify(old), 'token_revoked', POLL_MS * 10);
  t.diagnostic(`refused ${took} ms after the change (poll every ${POLL_MS} ms)`);
  const fresh = `Bearer ${await token(url, 'alice', 'alice-password-2')}`;
  assert.equal((await verifier.verify(fresh)).username, 'alice');

  users.removeUser('alice');
  await refusedWithin(() => verifier.verify(fresh), 'user_removed', POLL_MS * 10);
  assert.equal(await verifier.userExists('alice'), false);
});

test('the user state is guarded by the cluster secret; a verifier without it falls back to the token claims', async (t) => {
  const { url } = await startAuth(t, { clusterSecret: 'shared-secret' });
  const plain = await fetch(`${url}/internal/user-state`);
  assert.equal(plain.status, 403);
  await plain.arrayBuffer();
  const withSecret = await fetch(`${url}/internal/user-state`, { headers: { 'x-mom-cluster-secret': 'shared-secret' } });
  assert.equal(withSecret.status, 200);
  const body = (await withSecret.json()) as { users: Array<{ username: string; token_epoch: number }> };
  assert.deepEqual(body.users.map((u) => [u.username, u.token_epoch]), [['admin', 0]]);

  const admin = `Bearer ${await token(url, 'admin', 'admin-password')}`;
  assert.equal((await remoteVerifier(t, url, 'shared-secret').verify(admin)).username, 'admin');
  const stranger = remoteVerifier(t, url, 'another-secret');
  assert.equal((await stranger.verify(admin)).username, 'admin', 'inactive feed: the claims decide');
  assert.equal(await stranger.userExists('admin'), undefined);
});

test('an auth role that does not serve user state (404) leaves remote verifiers on the token claims', async (t) => {
  const { url } = await startAuth(t, { serveUserState: false });
  const admin = `Bearer ${await token(url, 'admin', 'admin-password')}`;
  assert.equal((await remoteVerifier(t, url).verify(admin)).username, 'admin');
});

test('an auth role that cannot be reached before the first answer: 503 unavailable, not a 401', async (t) => {
  const { url } = await startAuth(t);
  const admin = `Bearer ${await token(url, 'admin', 'admin-password')}`;
  const feed = new UserStateFeed({ authUrl: 'http://127.0.0.1:1', logger: silentLogger, pollMs: POLL_MS, firstWaitMs: 300 });
  t.after(() => feed.close());
  const verifier = createTokenVerifier({ jwksUrl: `${url}/.well-known/jwks.json` }, { userState: feed });
  await assert.rejects(verifier.verify(admin), (error: unknown) => error instanceof MomError && error.code === 'unavailable');
});
