/**
 * A full disk on one node (`--role all`), for real: the data dir is a small tmpfs that a
 * filler file fills up (issue 11 §0 and §2b, DESIGN §5).
 *
 * - writes answer 507 `insufficient_storage` (retryable, with Retry-After), never 500, and
 *   nothing is acknowledged that was not stored;
 * - every message acknowledged before stays readable, and pulls keep working;
 * - an ack that fails leaves the lease as it was: the message is not handed out again with an
 *   uncounted delivery;
 * - the broker does not loop on warnings while full, and writes again once there is room.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startBroker } from '../helpers/broker';
import { waitFor } from '../helpers/wait';
import { adminApi, expectError, expectStatus, uniqueName } from '../helpers/http-api';
import { mountTmpfs } from '../helpers/tmpfs';

const PAYLOAD = 'x'.repeat(2_000);
/** Publishes tried while filling: 100 messages of 2 KB each, far more than the disk holds. */
const MAX_FILL_REQUESTS = 400;

test('a full disk on a single node: 507 for writes, acknowledged messages stay readable, writes resume once there is room', { timeout: 120_000 }, async (t) => {
  const disk = mountTmpfs(t, 24);
  const broker = await startBroker(t, { dataDir: disk.dir });
  const api = await adminApi(broker);
  const exchange = uniqueName('disk');
  await api.declareExchange(exchange);
  await api.declareQueue(exchange, 'q');
  const path = `/v1/exchanges/${exchange}/queues/q`;

  const acknowledged = new Set<string>(await api.publish(path, Array.from({ length: 20 }, (_, i) => ({ payload: { before: i } }))));
  const held = await api.pull(path, { max: 5, lease_ms: 120_000 });
  assert.equal(held.length, 5);
  // Its lease runs out while the disk is full, when the failed delivery cannot be recorded.
  const [expiring] = await api.pull(path, { max: 1, lease_ms: 1_000 });
  assert.ok(expiring);

  disk.fill();
  // SQLite may still fit a few writes into space it already holds (the WAL is reused in place
  // after a checkpoint); keep publishing until the disk refuses one.
  let refused;
  for (let i = 0; i < MAX_FILL_REQUESTS && !refused; i++) {
    const response = await api.post(`${path}/messages`, { messages: Array.from({ length: 100 }, (_, k) => ({ payload: { fill: i, k, pad: PAYLOAD } })) });
    if (response.status === 201) for (const id of response.body.ids as string[]) acknowledged.add(id);
    else refused = response;
  }
  assert.ok(refused, `the disk never refused a publish in ${MAX_FILL_REQUESTS} requests`);
  expectError(refused, 507, 'insufficient_storage', 'a publish the full disk refused');
  assert.match(refused.body.error.message, /full/);
  assert.ok(refused.headers.get('retry-after'), 'with Retry-After: the same publish can succeed later');

  // While full: writes refused at once, reads served.
  expectError(await api.post(`${path}/messages`, { payload: 'while full' }), 507, 'insufficient_storage', 'a publish while the disk is full');
  const stats = await api.get(path);
  expectStatus(stats, [200], 'queue stats while the disk is full');
  const ack = await api.post(`${path}/ack`, { ids: held.map((m) => m.id) });
  expectError(ack, 507, 'insufficient_storage', 'an ack while the disk is full');
  const during = await api.pull(path, { max: 1000 });
  assert.ok(during.length > 0, 'pulls still deliver acknowledged messages while the disk is full');
  const heldIds = new Set(held.map((m) => m.id));
  await waitFor('the lease to expire while the disk is full', () => broker.stderr().includes('could not record expired leases'), { timeoutMs: 10_000, intervalMs: 50, retryErrors: true });
  const afterExpiry = await api.pull(path, { max: 1000 });
  assert.ok(!afterExpiry.some((m) => m.id === expiring.id), 'an expired lease whose failure could not be recorded is not handed out with an uncounted delivery');
  during.push(...afterExpiry);
  assert.deepEqual(
    during.filter((m) => heldIds.has(m.id)).map((m) => m.id),
    [],
    'messages whose ack failed stay leased to their consumer, not handed out again with an uncounted delivery',
  );
  const pulledWhileFull = during.map((m) => m.id);

  disk.free();
  await waitFor('a publish to succeed once the disk has room again', async () => (await api.post(`${path}/messages`, { payload: 'after', id: 'after-free' })).status === 201, { timeoutMs: 20_000, intervalMs: 200, retryErrors: true });
  acknowledged.add('after-free');
  const acked = await api.ack(path, held.map((m) => m.id));
  assert.equal(acked.acked, 5, 'the acks that failed while full succeed now, on the leases they kept');
  expectStatus(await api.post(`${path}/nack`, { ids: pulledWhileFull, requeue: true }), [200], 'give back what was pulled while full');

  const delivered = new Set<string>([...heldIds]);
  // The expired lease comes back once its failed delivery is on record (retried every second).
  const again = await waitFor(
    'the message whose lease expired while the disk was full to come back',
    async () => {
      const batch = await api.pull(path, { max: 1000, wait_ms: 1_000 });
      for (const message of batch) delivered.add(message.id);
      if (batch.length > 0) expectStatus(await api.post(`${path}/ack`, { ids: batch.map((m) => m.id) }), [200], 'ack');
      return batch.find((m) => m.id === expiring.id);
    },
    { timeoutMs: 20_000, retryErrors: true },
  );
  assert.ok(again && again.deliveries >= 2, `it comes back with its failed delivery counted (deliveries ${again?.deliveries})`);
  for (const message of await api.drain(path, { max: 1000 })) delivered.add(message.id);
  const lost = [...acknowledged].filter((id) => !delivered.has(id));
  assert.deepEqual(lost, [], `every acknowledged message is delivered (${acknowledged.size} acknowledged)`);

  const log = broker.stderr();
  const refusals = log.split('\n').filter((line) => line.includes('the disk refused a write'));
  assert.equal(refusals.length, 1, 'the full disk is reported once, not on every write');
  assert.doesNotMatch(log, /compaction failed/, 'no loop of compaction warnings while full');
  assert.match(log, /the disk takes writes again/);
});
