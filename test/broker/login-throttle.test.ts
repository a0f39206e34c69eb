/**
 * Login throttling (DESIGN §7, issue 11 §3) against the real process: per client address and per
 * (address, user); the right password is never refused for longer than the documented wait
 * (at most 15 s after the last failure from that address); `Retry-After` is the real wait.
 * Clients come from different loopback addresses (127.0.0.2, 127.0.0.3, …).
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { startBroker } from '../helpers/broker';
import { addUser } from '../helpers/http-api';

interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: { error?: { code: string; message: string } };
}

/** POST /auth from `localAddress`. */
function loginFrom(url: string, localAddress: string, user: string, pass: string): Promise<Answer> {
  const { hostname, port } = new URL(url);
  const body = JSON.stringify({ user, pass });
  return new Promise((resolve, reject) => {
    const req = request(
      { host: hostname, port, localAddress, method: 'POST', path: '/auth', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body: JSON.parse(text) as Answer['body'] }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('login throttling', { concurrency: 2 }, () => {
  it('wrong passwords from one address do not lock the owner out: another address logs in at once, this one after Retry-After', async (t) => {
    const broker = await startBroker(t);
    const attacker = '127.0.0.2';
    const owner = '127.0.0.3';
    // Ten wrong passwords for admin, as fast as answered: five are checked, then the waits begin.
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await loginFrom(broker.url, attacker, 'admin', `wrong-password-${i}`)).status);
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429, 429, 429, 429]);

    // The owner, elsewhere, is not held back at all.
    assert.equal((await loginFrom(broker.url, owner, 'admin', broker.adminPassword)).status, 200);

    // At the attacker's address even the right password waits, exactly as long as Retry-After says.
    const refused = await loginFrom(broker.url, attacker, 'admin', broker.adminPassword);
    const refusedAt = Date.now();
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error?.code, 'too_many_requests');
    const wait = Number(refused.retryAfter);
    assert.ok(Number.isInteger(wait) && wait >= 1 && wait <= 15, `Retry-After is the real wait in seconds, at most 15: ${refused.retryAfter}`);
    assert.match(refused.body.error!.message, new RegExp(`try again in ${wait} s`), 'the message and Retry-After agree');
    await sleep(Math.max(0, refusedAt + wait * 1000 + 50 - Date.now()));
    assert.equal((await loginFrom(broker.url, attacker, 'admin', broker.adminPassword)).status, 200, 'after Retry-After the right password works');
  });

  it('a guesser that obeys Retry-After is slowed to waits of at most 15 s, and the owner still gets in after one', { timeout: 120_000 }, async (t) => {
    const broker = await startBroker(t);
    await addUser(broker, 'carol', 'carol-password-1');
    const address = '127.0.0.4';
    const waits: number[] = [];
    for (let i = 0; i < 9; i++) {
      const answer = await loginFrom(broker.url, address, 'carol', `guess-${i}`);
      if (answer.status === 429) {
        waits.push(Number(answer.retryAfter));
        await sleep(Number(answer.retryAfter) * 1000 + 50);
        i--;
        continue;
      }
      assert.equal(answer.status, 401);
    }
    assert.deepEqual(waits, [1, 2, 4, 8], 'waits double from the 5th failure on');
    const refused = await loginFrom(broker.url, address, 'carol', 'carol-password-1');
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.retryAfter) <= 15, `never more than 15 s: ${refused.retryAfter}`);
    await sleep(Number(refused.retryAfter) * 1000 + 50);
    assert.equal((await loginFrom(broker.url, address, 'carol', 'carol-password-1')).status, 200);
  });

  it('guessing across many names from one address is slowed too', async (t) => {
    const broker = await startBroker(t);
    const sprayer = '127.0.0.5';
    for (let i = 0; i < 30; i++) {
      assert.equal((await loginFrom(broker.url, sprayer, `user-${i}`, 'password-1')).status, 401, `name ${i}`);
    }
    const next = await loginFrom(broker.url, sprayer, 'user-30', 'password-1');
    assert.equal(next.status, 429, 'the 31st failure from one address waits, whatever the name');
    assert.equal(next.retryAfter, '1');
    assert.equal((await loginFrom(broker.url, '127.0.0.6', 'admin', broker.adminPassword)).status, 200, 'other addresses are not affected');
  });
});
