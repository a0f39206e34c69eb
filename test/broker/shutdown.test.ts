/**
 * DESIGN §8/§10 shutdown: SIGTERM stops accepting, lets in-flight requests finish (an open
 * long poll is answered), flushes the store and exits 0 within 10 s; every publish answered
 * 201 is there after a restart.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { startBroker } from '../helpers/broker';
import { waitFor } from '../helpers/wait';
import { adminApi, uniqueName, type Api, type ApiResponse } from '../helpers/http-api';

const PRODUCERS = 3;
const MAX_PER_PRODUCER = 2_000;

async function produce(api: Api, queue: string, producer: number, acknowledged: Set<string>, refused: string[]): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (let seq = 0; seq < MAX_PER_PRODUCER && Date.now() < deadline; seq++) {
    let response: ApiResponse;
    try {
      response = await api.post(`${queue}/messages`, { payload: { producer, seq } });
    } catch {
      return; // the listener is gone
    }
    if (response.status === 201) {
      for (const id of response.body.ids as string[]) acknowledged.add(id);
    } else {
      // Refused while shutting down: must say so properly, and nothing was stored for it.
      refused.push(`${response.status} ${response.body?.error?.code}`);
      return;
    }
  }
}

test('SIGTERM with a long poll open and publishes in flight: poll answered, exit 0 within 10 s, nothing acknowledged lost', { timeout: 60_000 }, async (t) => {
  const broker = await startBroker(t);
  const api = await adminApi(broker);
  const exchange = uniqueName('term');
  await api.declareExchange(exchange);
  await api.declareQueue(exchange, 'idle');
  await api.declareQueue(exchange, 'load');
  const idle = `/v1/exchanges/${exchange}/queues/idle`;
  const load = `/v1/exchanges/${exchange}/queues/load`;

  const pollStarted = performance.now();
  const poll = api.get(`${idle}/messages?wait_ms=20000&max=10`).then(
    (response) => ({ response, ms: performance.now() - pollStarted }),
    (error: unknown) => ({ error, ms: performance.now() - pollStarted }),
  );
  const acknowledged = new Set<string>();
  const refused: string[] = [];
  const producers = Array.from({ length: PRODUCERS }, (_, p) => produce(api, load, p, acknowledged, refused));
  let producersDone = 0;
  for (const producer of producers) void producer.then(() => producersDone++);
  await waitFor('publishes to flow', () => acknowledged.size >= 300 || producersDone > 0, { timeoutMs: 15_000, retryErrors: true });
  assert.equal(producersDone, 0, 'producers still publishing at SIGTERM');

  const signalled = performance.now();
  const exit = await broker.stop('SIGTERM');
  const exitMs = performance.now() - signalled;
  t.diagnostic(`exit ${exit} after ${Math.round(exitMs)} ms; ${acknowledged.size} acknowledged; refused: ${refused.join(', ') || 'none'}`);
  assert.equal(exit, 0, `exit code 0; stderr tail:\n${broker.stderr().slice(-2000)}`);
  assert.ok(exitMs < 10_000, `exited within 10 s (${Math.round(exitMs)} ms)`);

  const polled = await poll;
  assert.ok('response' in polled, `the long poll got an answer, not a broken connection: ${'error' in polled ? String(polled.error) : ''}`);
  assert.equal(polled.response.status, 200);
  assert.deepEqual(polled.response.body, { messages: [] });
  assert.ok(polled.ms < 15_000, 'answered at shutdown, not at the end of wait_ms');
  await Promise.all(producers);
  for (const answer of refused) assert.match(answer, /^503 unavailable$/, 'a publish refused during shutdown is a 503 unavailable');

  const restarted = await broker.restart();
  const after = await adminApi(restarted);
  const stored = new Set((await after.drain(load)).map((m) => m.id));
  const lost = [...acknowledged].filter((id) => !stored.has(id));
  assert.deepEqual(lost, [], `acknowledged publishes missing after SIGTERM and restart (of ${acknowledged.size})`);
  assert.ok(stored.size - acknowledged.size <= PRODUCERS, 'at most the in-flight publishes were stored without an answer');
  assert.deepEqual(await after.pull(idle, { max: 10 }), []);
});

test('SIGTERM on an idle broker exits 0 at once and twice is harmless', async (t) => {
  const broker = await startBroker(t);
  // The "listening" line comes a moment before the signal handlers are installed; a served
  // request proves they are (a SIGTERM in that moment kills the process by the signal).
  assert.equal((await fetch(`${broker.url}/health`)).status, 200);
  const started = performance.now();
  broker.child.kill('SIGTERM');
  broker.child.kill('SIGTERM');
  assert.equal(await broker.stop('SIGTERM'), 0);
  assert.ok(performance.now() - started < 5_000);
  assert.match(broker.stderr(), /"msg":"stopped"/);
});
