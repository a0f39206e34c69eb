/**
 * The benchmark's consumer loop against a real broker: pulls go on while an ack is still
 * unanswered, the ids pulled meanwhile leave together, and the loop ends with all acked.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { consumeLoop } from '../../src/loadgen/workload';
import { connect, type Queue } from '../../src/client';
import { startBroker } from '../helpers/broker';
import { waitFor } from '../helpers/wait';

test('consumeLoop keeps pulling while an ack is unanswered, then acks the rest in one request', async (t) => {
  const broker = await startBroker(t);
  const conn = await connect({ url: broker.url, user: 'admin', password: broker.adminPassword });
  t.after(() => conn.close());
  await conn.declareExchange('bench-loop');
  const queue = conn.queue('bench-loop', 'q');
  await queue.declare();
  const published = await queue.publishBatch(Array.from({ length: 25 }, (_, i) => ({ payload: i })));

  // The real queue, with its first ack answered only when the test says so.
  const ackRequests: string[][] = [];
  let releaseFirstAck!: () => void;
  const firstAckReleased = new Promise<void>((resolve) => (releaseFirstAck = resolve));
  const heldQueue = {
    pull: (options: Parameters<Queue['pull']>[0]) => queue.pull(options),
    ack: async (ids: string[]) => {
      ackRequests.push(ids);
      if (ackRequests.length === 1) await firstAckReleased;
      return queue.ack(ids);
    },
  } as unknown as Queue; // consumeLoop uses only pull and ack

  const received: string[] = [];
  let acked = 0;
  const stop = new AbortController();
  const loop = consumeLoop(heldQueue, {
    max: 5,
    waitMs: 200,
    signal: stop.signal,
    onReceive: (messages) => received.push(...messages.map((message) => message.id)),
    onAcked: (count) => (acked += count),
  });

  await waitFor('every message pulled while the first ack is held', () => received.length === 25, { timeoutMs: 15_000, retryErrors: true });
  assert.equal(ackRequests.length, 1, 'no second ack request while the first is unanswered');
  assert.equal(ackRequests[0]!.length, 5);
  releaseFirstAck();
  await waitFor('all 25 acked', () => acked === 25, { timeoutMs: 15_000, retryErrors: true });
  stop.abort();
  await loop;

  assert.equal(ackRequests.length, 2, 'the 20 ids pulled meanwhile left in one request');
  assert.deepEqual([...ackRequests[0]!, ...ackRequests[1]!].sort(), [...published].sort());
  assert.deepEqual([...received].sort(), [...published].sort());
  const stats = await queue.stats();
  assert.equal(stats.depth + stats.in_flight, 0, 'nothing left ready or leased');
});
