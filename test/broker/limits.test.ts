/**
 * Bounds (issue 11 §3: 2,000 concurrent long polls by one user were all accepted): a
 * configurable number of connections per HTTP listener (`--max-connections`) and of long polls
 * per user (`--max-long-polls-per-user`); past either, 429 `too_many_requests` with Retry-After.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { startBroker } from '../helpers/broker';
import { waitFor } from '../helpers/wait';
import { scrapeUntil, valueOrUndefined } from '../helpers/prometheus';
import { adminApi, addUser, expectError, uniqueName, type Api } from '../helpers/http-api';

/** GET on a connection of its own (no pooling), so that it counts as a new connection. */
function getOnNewConnection(url: string, path: string): Promise<{ status: number; retryAfter?: string; connection?: string; body: { error?: { code: string } } }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], connection: res.headers.connection, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function openIdle(url: string, count: number): Promise<Socket[]> {
  const { hostname, port } = new URL(url);
  return Promise.all(
    Array.from({ length: count }, () => new Promise<Socket>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => resolve(socket));
      socket.on('error', reject);
    })),
  );
}

/** A long poll that is known to be waiting: the broker counts it before this resolves. */
function longPoll(api: Api, inbox: string, waitMs: number, signal?: AbortSignal) {
  return api.get(`${inbox}/messages?wait_ms=${waitMs}`, signal ? { signal } : undefined);
}

describe('limits', { concurrency: 2 }, () => {
  it('connections past --max-connections get 429 and are closed; freed ones are reused', async (t) => {
    const broker = await startBroker(t, { args: ['--max-connections', '5'] });
    const idle = await openIdle(broker.url, 5);
    t.after(() => idle.forEach((socket) => socket.destroy()));
    const refused = await waitFor('a connection past the limit to be refused', async () => {
      const answer = await getOnNewConnection(broker.url, '/health');
      return answer.status === 429 ? answer : undefined;
    }, { retryErrors: true });
    assert.ok(refused);
    assert.equal(refused.body.error?.code, 'too_many_requests');
    assert.equal(refused.retryAfter, '1');
    assert.equal(refused.connection, 'close');
    // Free one: a new connection is served again.
    idle.pop()!.destroy();
    await waitFor('a freed connection slot to be usable', async () => (await getOnNewConnection(broker.url, '/health')).status === 200, { retryErrors: true });
  });

  it('long polls past --max-long-polls-per-user get 429; other users and wait_ms=0 are not affected', async (t) => {
    const broker = await startBroker(t, { args: ['--max-long-polls-per-user', '3'] });
    const admin = await adminApi(broker);
    const ex = uniqueName('polls');
    await admin.declareExchange(ex);
    await admin.declareQueue(ex, 'q');
    const inbox = `/v1/exchanges/${ex}/queues/q`;
    const alice = await addUser(broker, 'alice', 'alice-password', [{ exchange: ex, allow: ['consume', 'publish'] }]);
    const bob = await addUser(broker, 'bob', 'bob-password-1', [{ exchange: ex, allow: ['consume'] }]);

    const stop = new AbortController();
    t.after(() => stop.abort());
    const waiting = Array.from({ length: 3 }, () => longPoll(alice, inbox, 20_000, stop.signal).catch(() => undefined));
    // Probing before all three wait could take the third one's slot (it would be refused and
    // leave): wait until the node counts three long polls on the queue.
    await scrapeUntil(broker.url, (scraped) => valueOrUndefined(scraped, 'mom_long_polls_waiting', { exchange: ex, queue: 'q' }) === 3, "alice's three long polls waiting");
    // Now a fourth is refused at once.
    const refused = await waitFor('a fourth long poll of alice to be refused', async () => {
      const answer = await longPoll(alice, inbox, 200);
      return answer.status === 429 ? answer : undefined;
    }, { retryErrors: true });
    assert.ok(refused);
    expectError(refused, 429, 'too_many_requests', 'the fourth long poll');
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.match(refused.body.error.message, /max-long-polls-per-user/);
    assert.equal((await alice.get(`${inbox}/messages?wait_ms=0`)).status, 200, 'a pull that does not wait is not counted');
    const bobs = await longPoll(bob, inbox, 100);
    assert.equal(bobs.status, 200, 'another user has slots of his own');

    // One of alice's long polls ends (a message arrives): her next long poll is accepted.
    await alice.publish(inbox, [{ payload: 'wake one' }]);
    const woken = await Promise.race(waiting);
    assert.equal(woken?.status, 200);
    await waitFor('a slot freed by the answered long poll', async () => (await longPoll(alice, inbox, 100)).status === 200, { retryErrors: true });
  });
});
