import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MomClientError } from '../../src/client/errors';
import { PublishBatcher, type PublishBatch } from '../../src/client/publish-batcher';

interface SentBatch {
  batch: PublishBatch;
  messages: unknown[];
  resolve(ids?: string[]): void;
  reject(error: unknown): void;
}

/** A send function whose requests stay pending until the test answers them. */
function manualSender() {
  const sent: SentBatch[] = [];
  const send = (batch: PublishBatch): Promise<string[]> =>
    new Promise<string[]>((resolve, reject) => {
      const messages = (JSON.parse(batch.body) as { messages: unknown[] }).messages;
      sent.push({
        batch,
        messages,
        resolve: (ids) => resolve(ids ?? messages.map((m) => `id-${(m as { payload: unknown }).payload}`)),
        reject,
      });
    });
  return { sent, send };
}

/** A send function that answers at once with ids derived from the payloads. */
function echoSender() {
  const sent: PublishBatch[] = [];
  const send = async (batch: PublishBatch): Promise<string[]> => {
    sent.push(batch);
    return (JSON.parse(batch.body) as { messages: Array<{ payload: unknown }> }).messages.map((m) => `id-${m.payload}`);
  };
  return { sent, send };
}

const message = (n: number, id?: string): string => JSON.stringify(id === undefined ? { payload: n } : { payload: n, id });

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('publishes made in the same turn go out as one request, each caller getting its own id', async () => {
  const { sent, send } = echoSender();
  const batcher = new PublishBatcher({ send });
  const ids = await Promise.all(Array.from({ length: 200 }, (_, n) => batcher.add(message(n), false)));
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.count, 200);
  assert.deepEqual(ids, Array.from({ length: 200 }, (_, n) => `id-${n}`));
  const body = JSON.parse(sent[0]!.body) as { messages: Array<{ payload: number }> };
  assert.deepEqual(
    body.messages.map((m) => m.payload),
    Array.from({ length: 200 }, (_, n) => n),
  );
});

test('a request holds at most maxMessages messages', async () => {
  const { sent, send } = echoSender();
  const batcher = new PublishBatcher({ send, maxMessages: 1000 });
  const ids = await Promise.all(Array.from({ length: 2500 }, (_, n) => batcher.add(message(n), false)));
  assert.deepEqual(
    sent.map((b) => b.count),
    [1000, 1000, 500],
  );
  assert.equal(ids[2499], 'id-2499');
  for (const batch of sent) assert.equal((JSON.parse(batch.body) as { messages: unknown[] }).messages.length, batch.count);
});

test('a request body stays within maxBytes', async () => {
  const { sent, send } = echoSender();
  const maxBytes = 1024;
  const batcher = new PublishBatcher({ send, maxBytes });
  const payload = 'x'.repeat(90);
  const jsons = Array.from({ length: 50 }, (_, n) => JSON.stringify({ payload: `${n}-${payload}` }));
  await Promise.all(jsons.map((json) => batcher.add(json, false)));
  assert.ok(sent.length > 1, 'split into several requests');
  assert.equal(
    sent.reduce((sum, b) => sum + b.count, 0),
    50,
  );
  for (const batch of sent) assert.ok(Buffer.byteLength(batch.body) <= maxBytes, `body of ${Buffer.byteLength(batch.body)} bytes`);
  // Nothing split needlessly: every request but the last would have overflowed with one more message.
  for (const batch of sent.slice(0, -1)) assert.ok(Buffer.byteLength(batch.body) + 100 > maxBytes);
});

test('a single message larger than maxBytes still goes, alone', async () => {
  const { sent, send } = echoSender();
  const batcher = new PublishBatcher({ send, maxBytes: 100 });
  const big = JSON.stringify({ payload: 'y'.repeat(500) });
  await Promise.all([batcher.add(message(1), false), batcher.add(big, false), batcher.add(message(2), false)]);
  assert.deepEqual(
    sent.map((b) => b.count),
    [1, 1, 1],
  );
});

test('at most maxInFlight requests run; messages added meanwhile accumulate into the next one', async () => {
  const { sent, send } = manualSender();
  const batcher = new PublishBatcher({ send, maxInFlight: 2, maxMessages: 10 });
  const first = Array.from({ length: 40 }, (_, n) => batcher.add(message(n), false));
  await turn();
  assert.equal(sent.length, 2, 'two requests in flight, two full batches waiting');
  // While both slots are busy, more publishes keep accumulating.
  const later = Array.from({ length: 3 }, (_, n) => batcher.add(message(100 + n), false));
  await turn();
  assert.equal(sent.length, 2);
  sent[0]!.resolve();
  await turn();
  assert.equal(sent.length, 3);
  assert.deepEqual(sent[2]!.messages.map((m) => (m as { payload: number }).payload), [20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
  sent[1]!.resolve();
  sent[2]!.resolve();
  await turn();
  assert.equal(sent.length, 5);
  assert.equal(sent[4]!.batch.count, 3, 'the accumulated messages leave together');
  sent[3]!.resolve();
  sent[4]!.resolve();
  assert.deepEqual(await Promise.all(later), ['id-100', 'id-101', 'id-102']);
  assert.equal((await Promise.all(first)).length, 40);
});

test('a free slot sends what accumulated without waiting for the turn to end', async () => {
  const { sent, send } = manualSender();
  const scheduled: Array<() => void> = [];
  const batcher = new PublishBatcher({ send, maxInFlight: 1, schedule: (callback) => scheduled.push(callback) });
  const a = batcher.add(message(1), false);
  scheduled.shift()!();
  assert.equal(sent.length, 1);
  const b = batcher.add(message(2), false);
  const c = batcher.add(message(3), false);
  sent[0]!.resolve();
  assert.equal(await a, 'id-1');
  assert.equal(sent.length, 2, 'sent when the slot freed');
  assert.equal(sent[1]!.batch.count, 2);
  sent[1]!.resolve();
  assert.deepEqual(await Promise.all([b, c]), ['id-2', 'id-3']);
});

test('a failed request rejects every caller of that batch, and only those', async () => {
  const { sent, send } = manualSender();
  const batcher = new PublishBatcher({ send, maxMessages: 2 });
  const results = Array.from({ length: 4 }, (_, n) => batcher.add(message(n), false).then(
    (id) => ({ id }),
    (error: unknown) => ({ error }),
  ));
  await turn();
  assert.equal(sent.length, 2);
  const failure = new MomClientError('unavailable', 'down', { status: 503, retryable: true });
  sent[0]!.reject(failure);
  sent[1]!.resolve();
  const settled = await Promise.all(results);
  assert.equal((settled[0] as { error: unknown }).error, failure);
  assert.equal((settled[1] as { error: unknown }).error, failure);
  assert.deepEqual(settled.slice(2), [{ id: 'id-2' }, { id: 'id-3' }]);
});

test('a send function that throws synchronously rejects its batch', async () => {
  const batcher = new PublishBatcher({
    send: () => {
      throw new MomClientError('closed', 'closed');
    },
  });
  await assert.rejects(batcher.add(message(1), false), { code: 'closed' });
});

test('a batch is idempotent only when every message carries a producer id', async () => {
  const { sent, send } = echoSender();
  const batcher = new PublishBatcher({ send });
  await Promise.all([batcher.add(message(1, 'a'), true), batcher.add(message(2, 'b'), true)]);
  await Promise.all([batcher.add(message(3, 'c'), true), batcher.add(message(4), false)]);
  assert.deepEqual(
    sent.map((b) => b.idempotent),
    [true, false],
  );
});

test('an answer with the wrong number of ids rejects the batch as bad_response', async () => {
  const batcher = new PublishBatcher({ send: async () => ['only-one'] });
  const results = await Promise.allSettled([batcher.add(message(1), false), batcher.add(message(2), false)]);
  for (const result of results) {
    assert.equal(result.status, 'rejected');
    assert.equal((result.reason as MomClientError).code, 'bad_response');
  }
});

test('a group travels in one request and resolves its ids in order', async () => {
  const { sent, send } = echoSender();
  const batcher = new PublishBatcher({ send, maxMessages: 5 });
  const single = batcher.add(message(0), false);
  const group = batcher.addGroup([message(1), message(2), message(3), message(4), message(5)], [false, false, false, false, false]);
  const tail = batcher.add(message(6), false);
  assert.deepEqual(await group, ['id-1', 'id-2', 'id-3', 'id-4', 'id-5']);
  assert.equal(await single, 'id-0');
  assert.equal(await tail, 'id-6');
  assert.deepEqual(
    sent.map((b) => b.count),
    [1, 5, 1],
    'the group did not fit beside the single message, so it went on its own',
  );
});

test('flush sends at once and resolves when every request has been answered', async () => {
  const { sent, send } = manualSender();
  const scheduled: Array<() => void> = [];
  const batcher = new PublishBatcher({ send, schedule: (callback) => scheduled.push(callback) });
  const id = batcher.add(message(7), false);
  let flushed = false;
  const flushing = batcher.flush().then(() => {
    flushed = true;
  });
  assert.equal(sent.length, 1, 'sent without waiting for the turn to end');
  await turn();
  assert.equal(flushed, false, 'not before the answer');
  sent[0]!.resolve();
  await flushing;
  assert.equal(await id, 'id-7');
  assert.equal(batcher.pendingRequests, 0);
  await batcher.flush();
});
