/**
 * DESIGN §7: a password change or a removal ends the user's older tokens within seconds (in one
 * process, at once); a token whose `iat` is in the future beyond the clock skew is refused
 * (issue 11 §3: tokens issued before a password change lived on for up to an hour).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { importJWK, SignJWT, type JWK, type KeyLike } from 'jose';
import { login, startBroker } from '../helpers/broker';
import { waitFor } from '../helpers/wait';
import { addUser, Api, expectError, runCli, uniqueName } from '../helpers/http-api';

describe('token revocation', () => {
  it('a new password ends the tokens issued before it; a removal ends them too; new logins work', async (t) => {
    const broker = await startBroker(t);
    const admin = new Api(broker.url, await login(broker.url, 'admin', broker.adminPassword));
    const ex = uniqueName('revoke');
    await admin.declareExchange(ex);
    const alice = await addUser(broker, 'alice', 'alice-password-1', [{ exchange: ex, allow: ['publish', 'consume', 'configure'] }]);
    const aliceOther = new Api(broker.url, await login(broker.url, 'alice', 'alice-password-1'));
    assert.equal((await alice.put(`/v1/exchanges/${ex}/queues/q`)).status, 201);
    assert.equal((await aliceOther.get('/v1/exchanges')).status, 200);

    await runCli(['users', 'passwd', 'alice', '--password-stdin', '--data', broker.dataDir], 'alice-password-2\n');
    const changedAt = Date.now();
    // Bounded (in one process the user database is read on every request, so: at once).
    const refused = await waitFor('the old token to be refused', async () => {
      const answer = await alice.get('/v1/exchanges');
      return answer.status === 401 ? answer : undefined;
    }, { timeoutMs: 5_000, retryErrors: true });
    assert.ok(refused);
    t.diagnostic(`old token refused ${Date.now() - changedAt} ms after the password change`);
    expectError(refused, 401, 'unauthorized', 'a token from before the password change');
    assert.equal(refused.body.error.reason, 'token_revoked');
    for (const route of [`/v1/exchanges/${ex}/queues/q`, `/v1/exchanges/${ex}/queues/q/messages`]) {
      expectError(await aliceOther.get(route), 401, 'unauthorized', `every older token: GET ${route}`);
    }
    expectError(await alice.post(`/v1/exchanges/${ex}/queues/q/messages`, { payload: 'x' }), 401, 'unauthorized', 'publish with the old token');
    expectError(await alice.post('/validate'), 401, 'unauthorized', '/validate with the old token');
    expectError(await alice.post('/send', { operation: 'push', type: 'q', data: { headers: { exchange: ex, routing_key: 'q' }, body: 1 } }), 401, 'unauthorized', '/send with the old token');

    // The old password is gone; the new one gives a token that works.
    const oldLogin = await fetch(`${broker.url}/auth`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'alice', pass: 'alice-password-1' }) });
    assert.equal(oldLogin.status, 401);
    await oldLogin.arrayBuffer();
    const fresh = new Api(broker.url, await login(broker.url, 'alice', 'alice-password-2'));
    assert.equal((await fresh.post(`/v1/exchanges/${ex}/queues/q/messages`, { payload: 'after' })).status, 201);
    assert.equal((await admin.get('/v1/exchanges')).status, 200, 'other users keep their tokens');

    // A second change ends the token of the first change too.
    await runCli(['users', 'passwd', 'alice', '--password-stdin', '--data', broker.dataDir], 'alice-password-3\n');
    expectError(await fresh.get('/v1/exchanges'), 401, 'unauthorized', 'a token from between two changes');

    // Removal: the token of a removed user, and of a new user with the same name, are different things.
    const third = new Api(broker.url, await login(broker.url, 'alice', 'alice-password-3'));
    await runCli(['users', 'remove', 'alice', '--data', broker.dataDir]);
    await runCli(['users', 'add', 'alice', '--password-stdin', '--data', broker.dataDir], 'alice-password-3\n');
    const removed = await third.get('/v1/exchanges');
    expectError(removed, 401, 'unauthorized', 'a token of the removed alice');
    assert.equal(removed.body.error.reason, 'user_removed');
  });

  it('a token issued in the future beyond the clock skew (30 s) is refused', async (t) => {
    const broker = await startBroker(t);
    const jwk = JSON.parse(readFileSync(join(broker.dataDir, 'auth', 'signing-key.json'), 'utf8')) as JWK;
    const key = (await importJWK({ kty: 'OKP', crv: 'Ed25519', x: jwk.x, d: jwk.d }, 'EdDSA')) as KeyLike;
    const kid = ((await (await fetch(`${broker.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> }).keys[0]!.kid;
    const adminId = (await new Api(broker.url, await login(broker.url, 'admin', broker.adminPassword)).post('/validate')).body.user.id as number;
    const signed = (iatOffset: number) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ uid: adminId, adm: true, grants: [], tep: 0 })
        .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT' })
        .setIssuer('mombroker')
        .setAudience('mombroker')
        .setSubject('admin')
        .setIssuedAt(now + iatOffset)
        .setExpirationTime(now + iatOffset + 600)
        .sign(key);
    };
    const future = await new Api(broker.url, await signed(3600)).get('/v1/exchanges');
    expectError(future, 401, 'unauthorized', 'iat an hour ahead');
    assert.equal(future.body.error.reason, 'token_invalid');
    assert.match(future.body.error.message, /future/);
    expectError(await new Api(broker.url, await signed(120)).get('/v1/exchanges'), 401, 'unauthorized', 'iat two minutes ahead');
    assert.equal((await new Api(broker.url, await signed(10)).get('/v1/exchanges')).status, 200, 'iat 10 s ahead is within the skew');
  });
});
