/**
 * DESIGN §3 and the first "must hold": with `--fsync batch` (the default) a publish
 * answered 201 survives `kill -9`, an ack answered 200 stays settled, and a message that was
 * leased but not acked is delivered again after the restart.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startBroker } from '../helpers/broker';
import { waitFor } from '../helpers/wait';
import { adminApi, uniqueName, type Api, type WireMessage } from '../helpers/http-api';

const PRODUCERS = 3;
const MESSAGES_PER_PRODUCER = 2_000;
const LOAD_DEADLINE_MS = 5_000;
/** Kill once this many publishes were acknowledged (well before the producers are done). */
const KILL_AFTER_ACKNOWLEDGED = 1_000;
const MAX_BATCH = 5;

interface LoadResult {
  /** Every message id a 201 answered, with the payload it was published with. */
  acknowledged: Map<string, string>;
  /** Answers that were neither 201 nor a broken connection. */
  unexpected: string[];
  /** Producers whose last request failed because the process died. */
  cutOff: number;
}

async function produce(api: Api, queuePath: string, producer: number, deadline: number, stop: () => boolean, result: LoadResult): Promise<void> {
  let seq = 0;
  while (seq < MESSAGES_PER_PRODUCER && !stop() && Date.now() < deadline) {
    // Singles and batches, as real producers mix them.
    const size = seq % 3 === 0 ? Math.min(MAX_BATCH, MESSAGES_PER_PRODUCER - seq) : 1;
    const messages = Array.from({ length: size }, (_, k) => ({ payload: { producer, seq: seq + k } }));
    let response;
    try {
      response = await api.post(`${queuePath}/messages`, size === 1 ? messages[0] : { messages });
    } catch {
      result.cutOff++;
      return;
    }
    if (response.status !== 201) {
      result.unexpected.push(`${response.status} ${response.text.slice(0, 200)}`);
      return;
    }
    const ids = response.body.ids as string[];
    assert.equal(ids.length, size);
    ids.forEach((id, k) => result.acknowledged.set(id, JSON.stringify(messages[k]!.payload)));
    seq += size;
  }
}

/**
 * Pulls and acks every other message while the producers run; the rest stay leased. An ack
 * cut off by the kill may or may not have been committed: its ids go to `maybeAcked`.
 */
async function consume(api: Api, queuePath: string, stop: () => boolean, acked: Set<string>, leased: Set<string>, maybeAcked: Set<string>): Promise<void> {
  while (!stop()) {
    let messages: WireMessage[];
    try {
      const response = await api.get(`${queuePath}/messages?max=20&wait_ms=200&lease_ms=600000`);
      if (response.status !== 200) return;
      messages = response.body.messages;
    } catch {
      return;
    }
    const toAck = messages.filter((_, i) => i % 2 === 0).map((m) => m.id);
    for (const m of messages.filter((_, i) => i % 2 === 1)) leased.add(m.id);
    if (toAck.length === 0) continue;
    try {
      const response = await api.post(`${queuePath}/ack`, { ids: toAck });
      if (response.status !== 200) return;
      const unknown = new Set<string>(response.body.unknown);
      for (const id of toAck) if (!unknown.has(id)) acked.add(id);
    } catch {
      // The kill came while this ack was in flight: its ids may or may not be settled.
      for (const id of toAck) maybeAcked.add(id);
      return;
    }
  }
}

test('kill -9 during concurrent publishes: every 201 survives, acks stay, leases come back', async (t) => {
  const broker = await startBroker(t, { args: ['--fsync', 'batch'] });
  const admin = await adminApi(broker);
  const exchange = uniqueName('durable');
  const settleQueue = `/v1/exchanges/${exchange}/queues/settle`;
  const loadQueue = `/v1/exchanges/${exchange}/queues/load`;
  await admin.declareExchange(exchange);
  await admin.declareQueue(exchange, 'settle');
  await admin.declareQueue(exchange, 'load');

  // Before the load: 20 messages, the first 10 acked, the other 10 leased for 10 minutes.
  const settleIds = await admin.publish(
    settleQueue,
    Array.from({ length: 20 }, (_, i) => ({ payload: { before: i } })),
  );
  const leasedBefore = await admin.pull(settleQueue, { max: 20, lease_ms: 600_000 });
  assert.deepEqual(leasedBefore.map((m) => m.id), settleIds);
  const ackedBefore = settleIds.slice(0, 10);
  const unackedBefore = settleIds.slice(10);
  assert.deepEqual(await admin.ack(settleQueue, ackedBefore), { acked: 10, unknown: [] });

  // The load: three producers and a consumer, cut off by SIGKILL.
  const result: LoadResult = { acknowledged: new Map(), unexpected: [], cutOff: 0 };
  const ackedDuringLoad = new Set<string>();
  const leasedDuringLoad = new Set<string>();
  const maybeAcked = new Set<string>();
  let killed = false;
  const stop = () => killed;
  const deadline = Date.now() + LOAD_DEADLINE_MS;
  const producers = Array.from({ length: PRODUCERS }, (_, p) => produce(admin, loadQueue, p, deadline, stop, result));
  let producersDone = 0;
  for (const producer of producers) void producer.then(() => producersDone++);
  const consumer = consume(admin, loadQueue, stop, ackedDuringLoad, leasedDuringLoad, maybeAcked);

  // Kill after enough acknowledged publishes, or halfway through the load on a slow machine.
  const killAt = Date.now() + LOAD_DEADLINE_MS / 2;
  await waitFor(
    'producers to get going',
    () => result.acknowledged.size >= KILL_AFTER_ACKNOWLEDGED || Date.now() >= killAt || producersDone > 0,
    { timeoutMs: LOAD_DEADLINE_MS + 5_000, retryErrors: true },
  );
  assert.ok(result.acknowledged.size >= 100, `enough publishes before the kill (${result.acknowledged.size})`);
  assert.equal(producersDone, 0, `the producers must still be publishing at the kill (acknowledged ${result.acknowledged.size}, unexpected ${result.unexpected.join('; ')})`);
  assert.equal(await broker.stop('SIGKILL'), 'SIGKILL');
  killed = true;
  await Promise.all([...producers, consumer]);
  assert.deepEqual(result.unexpected, [], 'before the kill every publish answered 201');
  assert.ok(result.cutOff >= 1, 'at least one publish was in flight when the process died');
  assert.ok(ackedDuringLoad.size > 0 && leasedDuringLoad.size > 0, 'the consumer acked some and kept some leased');

  t.diagnostic(
    `at the kill: ${result.acknowledged.size} acknowledged, ${ackedDuringLoad.size} acked, ${leasedDuringLoad.size} leased, ` +
      `${maybeAcked.size} in an ack cut off, ${result.cutOff} publishes cut off`,
  );
  const restarted = await broker.restart();
  const after = await adminApi(restarted);

  // Load queue: everything acknowledged and not acked is there once, with its payload.
  const loadMessages = await after.drain(loadQueue);
  const seen = new Map<string, string>();
  for (const message of loadMessages) {
    assert.ok(!seen.has(message.id), `message ${message.id} delivered once after the restart`);
    seen.set(message.id, JSON.stringify(message.payload));
  }
  const lost = [...result.acknowledged.keys()].filter((id) => !ackedDuringLoad.has(id) && !maybeAcked.has(id) && !seen.has(id));
  assert.deepEqual(lost, [], `acknowledged messages missing after kill -9 (of ${result.acknowledged.size})`);
  const resurrected = [...ackedDuringLoad].filter((id) => seen.has(id));
  assert.deepEqual(resurrected, [], 'messages acked before the kill came back');
  const leasedLost = [...leasedDuringLoad].filter((id) => !seen.has(id));
  assert.deepEqual(leasedLost, [], 'messages leased but not acked before the kill are delivered again');
  for (const [id, payload] of seen) {
    const published = result.acknowledged.get(id);
    if (published !== undefined) assert.equal(payload, published, `payload of ${id}`);
  }
  // Extra messages can only come from the requests in flight at the kill: at most one per producer.
  const unacknowledged = [...seen.keys()].filter((id) => !result.acknowledged.has(id));
  assert.ok(unacknowledged.length <= PRODUCERS * MAX_BATCH, `${unacknowledged.length} stored messages were never acknowledged`);

  // Settle queue: exactly the 10 leased-but-unacked messages come back; the acked 10 never do.
  const settleMessages = await after.drain(settleQueue);
  assert.deepEqual(settleMessages.map((m) => m.id), unackedBefore);
  assert.deepEqual(settleMessages.map((m) => m.payload), unackedBefore.map((_, i) => ({ before: 10 + i })));

  // And the restarted broker takes new work.
  const [fresh] = await after.publish(loadQueue, [{ payload: 'after restart' }]);
  const [pulled] = await after.pull(loadQueue, { max: 1 });
  assert.equal(pulled?.id, fresh);
});
