import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AckBatcher } from '../../src/client/ack-batcher';
import { MomClientError } from '../../src/client/errors';

test('acks made in the same turn share one request; unknown ids resolve false', async () => {
  const requests: string[][] = [];
  const batcher = new AckBatcher({
    send: async (ids) => {
      requests.push(ids);
      return ids.filter((id) => id.endsWith('-gone'));
    },
  });
  const results = await Promise.all(['a', 'b-gone', 'c'].map((id) => batcher.add(id)));
  assert.deepEqual(requests, [['a', 'b-gone', 'c']]);
  assert.deepEqual(results, [true, false, true]);
});

test('more than maxIds ids are split into several requests', async () => {
  const requests: string[][] = [];
  const batcher = new AckBatcher({ maxIds: 1000, send: async (ids) => (requests.push(ids), []) });
  await Promise.all(Array.from({ length: 2300 }, (_, n) => batcher.add(`m${n}`)));
  assert.deepEqual(
    requests.map((ids) => ids.length),
    [1000, 1000, 300],
  );
});

test('a failed request rejects its callers; flush waits for requests in flight', async () => {
  let fail: (error: unknown) => void = () => {};
  const batcher = new AckBatcher({ send: () => new Promise<string[]>((_, reject) => (fail = reject)) });
  const ack = batcher.add('x');
  let flushed = false;
  const flushing = batcher.flush().then(() => (flushed = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(flushed, false);
  fail(new MomClientError('unavailable', 'down', { status: 503 }));
  await assert.rejects(ack, { code: 'unavailable' });
  await flushing;
});
