import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApiRequest, ApiResponse, ClientContext, Flushable } from '../../src/client/context';
import { MomClientError } from '../../src/client/errors';
import { Publisher } from '../../src/client/publisher';

/** A ClientContext that records requests and answers publishes with sequential ids. */
function fakeContext(maxBatchMessages = 1000, maxBatchBytes = 900 * 1024) {
  const requests: ApiRequest[] = [];
  let next = 0;
  let open = true;
  const context: ClientContext = {
    async request<T>(request: ApiRequest): Promise<ApiResponse<T>> {
      requests.push(request);
      const { messages } = JSON.parse(request.body!) as { messages: unknown[] };
      return { status: 201, body: { ids: messages.map(() => `m${next++}`) } as T };
    },
    assertOpen() {
      if (!open) throw new MomClientError('closed', 'closed');
    },
    async openStream() {
      throw new MomClientError('invalid_argument', 'publishers open no streams');
    },
    closeSignal: new AbortController().signal,
    username: async () => 'alice',
    handle<T extends Flushable>(_key: string, create: () => T): T {
      return create();
    },
    publishSettings: { acks: 'all', maxRequestsInFlight: 4, maxBatchMessages, maxBatchBytes },
    retryDeadlineMs: 10_000,
  };
  return { context, requests, close: () => (open = false) };
}

const bodyOf = (request: ApiRequest) => JSON.parse(request.body!) as { messages: Array<Record<string, unknown>> };

test('each message is sent as {payload, headers?, id?}', async () => {
  const { context, requests } = fakeContext();
  const publisher = new Publisher(context, '/v1/exchanges/shop/queues/orders/messages');
  const ids = await Promise.all([
    publisher.publish({ sku: 42 }, { headers: { a: 'b' }, id: 'order-1' }),
    publisher.publish('plain'),
    publisher.publish(null),
  ]);
  assert.deepEqual(ids, ['m0', 'm1', 'm2']);
  assert.equal(requests.length, 1);
  assert.equal(requests[0]!.method, 'POST');
  assert.equal(requests[0]!.path, '/v1/exchanges/shop/queues/orders/messages');
  assert.equal(requests[0]!.idempotent, false, 'two messages lack a producer id');
  assert.deepEqual(bodyOf(requests[0]!).messages, [{ payload: { sku: 42 }, headers: { a: 'b' }, id: 'order-1' }, { payload: 'plain' }, { payload: null }]);
});

test('a batch where every message has an id may be retried', async () => {
  const { context, requests } = fakeContext();
  const publisher = new Publisher(context, '/p');
  await Promise.all([publisher.publish(1, { id: 'a' }), publisher.publish(2, { id: 'b' })]);
  assert.equal(requests[0]!.idempotent, true);
});

test('publishBatch splits at the message limit and keeps the ids in order', async () => {
  const { context, requests } = fakeContext(1000);
  const publisher = new Publisher(context, '/p');
  const ids = await publisher.publishBatch(Array.from({ length: 2001 }, (_, n) => ({ payload: n })));
  assert.equal(ids.length, 2001);
  assert.deepEqual(ids.slice(0, 3), ['m0', 'm1', 'm2']);
  assert.equal(ids[2000], 'm2000');
  assert.deepEqual(
    requests.map((r) => bodyOf(r).messages.length),
    [1000, 1000, 1],
  );
  assert.deepEqual(bodyOf(requests[2]!).messages, [{ payload: 2000 }]);
});

test('publishBatch splits at the byte limit', async () => {
  const maxBytes = 2048;
  const { context, requests } = fakeContext(1000, maxBytes);
  const publisher = new Publisher(context, '/p');
  const ids = await publisher.publishBatch(Array.from({ length: 40 }, (_, n) => ({ payload: `${n}:${'z'.repeat(200)}` })));
  assert.equal(ids.length, 40);
  assert.ok(requests.length >= 4);
  for (const request of requests) assert.ok(Buffer.byteLength(request.body!) <= maxBytes);
});

test('values that are not JSON are refused before anything is sent', async () => {
  const { context, requests } = fakeContext();
  const publisher = new Publisher(context, '/p');
  await assert.rejects(publisher.publish(undefined), { code: 'invalid_argument' });
  await assert.rejects(publisher.publish(() => 1), { code: 'invalid_argument' });
  await assert.rejects(publisher.publish(10n), { code: 'invalid_argument' });
  await assert.rejects(publisher.publish(1, { id: '' }), { code: 'invalid_argument' });
  await assert.rejects(publisher.publishBatch([{ payload: 1 }, { payload: undefined }]), /message 1/);
  assert.equal(requests.length, 0);
});

test('publishing after close rejects with closed', async () => {
  const { context, close } = fakeContext();
  const publisher = new Publisher(context, '/p');
  close();
  await assert.rejects(publisher.publish(1), { code: 'closed' });
  await assert.rejects(publisher.publishBatch([{ payload: 1 }]), { code: 'closed' });
});
