/**
 * No acknowledged message is lost when a node dies (DESIGN §5): RF 3, min ISR 2, producers
 * publishing through the gateway while a replica of the queue's partition is SIGKILLed —
 * first its leader, then one of its followers. Every id answered 201 must be consumable
 * afterwards; redelivery and duplicates are allowed, loss is not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '../helpers/wait';
import { uniqueName } from '../helpers/http-api';
import { startCluster, type Cluster } from '../helpers/cluster';
import { assertNoLoss, consumeAll, queuePath, startProducers } from '../helpers/workloads';

const PRODUCERS = 2;
const MAX_EACH = 1_500;
/** A bound on the whole producing phase; the failover itself takes about a session timeout. */
const MAX_PRODUCE_MS = 30_000;
const BEFORE_KILL = 400;
const AFTER_KILL = 400;

async function publishThroughKill(cluster: Cluster, exchange: string, queue: string, victim: (leader: string, replicas: string[]) => string) {
  const api = await cluster.api();
  const path = queuePath(exchange, queue);
  await api.declareQueue(exchange, queue);
  const route = await cluster.route(exchange, queue);
  const target = victim(route.leader!, route.replicas);

  const run = startProducers(api, path, { producers: PRODUCERS, maxEach: MAX_EACH, maxMs: MAX_PRODUCE_MS });
  try {
    await waitFor(`${BEFORE_KILL} acknowledged publishes before the kill`, () => run.acked.size >= BEFORE_KILL, { timeoutMs: 20_000, retryErrors: true });
    const killedAt = Date.now();
    await cluster.nodes.get(target)!.stop('SIGKILL');
    await waitFor(`${AFTER_KILL} acknowledged publishes after killing ${target}`, () => run.ackedSince(killedAt) >= AFTER_KILL, { timeoutMs: 25_000, retryErrors: true });
  } finally {
    await run.stop();
  }
  const sent = run.sent.reduce((a, b) => a + b, 0);
  const { messages, ids } = await consumeAll(api, path, run.acked.keys(), 30_000);
  assertNoLoss(run.acked.keys(), ids, `after SIGKILL of ${target}`);

  // Nothing appears that no producer sent.
  for (const message of messages) {
    const { producer, seq } = message.payload as { producer: number; seq: number };
    assert.ok(producer >= 0 && producer < PRODUCERS && seq >= 0 && seq < run.sent[producer]!, `consumed a message nobody sent: ${JSON.stringify(message.payload)}`);
  }
  const refused = [...run.refused].map(([reason, n]) => `${n}× ${reason}`).join(', ') || 'none';
  console.log(
    `killed ${target} (${target === route.leader ? 'leader' : 'follower'} of p${route.partition}): ${sent} sent, ${run.acked.size} acknowledged, ` +
      `${ids.size} distinct consumed (${messages.length - ids.size} redelivered), refused: ${refused}`,
  );
  return { target, route };
}

test('replication: SIGKILL of a leader, then of a follower, loses no acknowledged message', { timeout: 240_000 }, async (t) => {
  const cluster = await startCluster(t, { nodes: 3, partitions: 8, minIsr: 2, replicaLagMaxMs: 3_000 });
  const exchange = uniqueName('repl');
  await (await cluster.api()).declareExchange(exchange);

  await t.test('the leader of the queue\'s partition is killed while producers publish', async () => {
    const { target, route } = await publishThroughKill(cluster, exchange, 'orders', (leader) => leader);
    const after = await cluster.partitionInfo(route.partition);
    assert.notEqual(after.leader, target, 'another node leads now');
    assert.ok(after.leader !== null && route.replicas.includes(after.leader), 'a replica of the partition');
    assert.ok(after.leader_epoch > route.leader_epoch, 'with a higher leader epoch');
    await cluster.nodes.get(target)!.restart();
    await cluster.waitHealthy();
  });

  await t.test('a follower of the queue\'s partition is killed while producers publish', async () => {
    const { target, route } = await publishThroughKill(cluster, exchange, 'invoices', (leader, replicas) => replicas.find((id) => id !== leader)!);
    const after = await cluster.partitionInfo(route.partition);
    assert.equal(after.leader, route.leader, 'the leader stays');
    assert.ok(!after.isr.includes(target), `the dead follower left the ISR: ${after.isr}`);
    await cluster.nodes.get(target)!.restart();
    // It catches up and rejoins; then it holds the acknowledged messages too.
    await cluster.waitHealthy();
  });
});
