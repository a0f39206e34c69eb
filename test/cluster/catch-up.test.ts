/**
 * A follower that was away catches up (DESIGN §5): it is SIGKILLed, messages are published
 * without it, it restarts on its data dir, rejoins the ISR, and — once the leader is killed
 * and it leads — serves every one of those messages.
 *
 * Then the end-to-end effect of divergence truncation: a leader appends an entry that no
 * follower has (both followers are dead), dies, and the partition goes offline; the
 * followers come back and one of them leads; the old leader comes back as a follower,
 * truncates its uncommitted suffix by leader epoch, and when it leads again that entry is
 * nowhere — neither in its log nor in the queue — while every acknowledged message is.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { expectStatus, uniqueName, type Api } from '../helpers/http-api';
import { waitFor } from '../helpers/wait';
import { startCluster, type Cluster } from '../helpers/cluster';
import { leaderLogEntries } from '../helpers/replication';
import { assertNoLoss, consumeAll, nameInPartition, queuePath } from '../helpers/workloads';

const N = 600;
const BATCH = 100;

/** Publishes `count` messages in batches through `api`; every batch must be acknowledged. */
async function publishBatches(api: Api, path: string, count: number, tag: string): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += BATCH) {
    const messages = Array.from({ length: Math.min(BATCH, count - start) }, (_, i) => ({ payload: { tag, seq: start + i } }));
    const response = await api.post(`${path}/messages`, { messages });
    expectStatus(response, [201], `publish ${tag} ${start}..${start + messages.length - 1}`);
    ids.push(...(response.body.ids as string[]));
  }
  return ids;
}

test('catch-up: a restarted follower rejoins the ISR and serves everything; a divergent suffix is truncated', { timeout: 240_000 }, async (t) => {
  const cluster: Cluster = await startCluster(t, { nodes: 3, partitions: 4, replicaLagMaxMs: 3_000 });
  const api = await cluster.api();
  const exchange = uniqueName('catchup');
  await api.declareExchange(exchange);
  // Partition 0: replicas [L, F, G], led by L, the first replica. Failover picks the first
  // live ISR member in replica order, so when L dies, F leads.
  const initial = await cluster.partitionInfo(0);
  const [L, F, G] = initial.replicas as [string, string, string];
  assert.equal(initial.leader, L);
  const queue = nameInPartition(cluster, exchange, 0, 'jobs');
  const path = queuePath(exchange, queue);
  await api.declareQueue(exchange, queue);

  await t.test('a follower away during N publishes catches up, rejoins the ISR and serves all N as leader', async () => {
    await cluster.nodes.get(F)!.stop('SIGKILL');
    // The first batch waits until the leader drops F from the ISR (replica lag max 3 s).
    const ids = await publishBatches(api, path, N, 'while-away');
    await cluster.waitPartition(0, (p) => !p.isr.includes(F), `${F} out of the ISR`);

    await cluster.nodes.get(F)!.restart();
    await cluster.waitPartition(0, (p) => p.isr.includes(F), `${F} back in the ISR`, 30_000);

    await cluster.nodes.get(L)!.stop('SIGKILL');
    const after = await cluster.waitPartition(0, (p) => p.leader !== L && p.leader !== null, `a new leader instead of ${L}`);
    assert.equal(after.leader, F, `the restarted follower ${F} leads (first live ISR member in replica order)`);

    const { messages, ids: consumed } = await consumeAll(api, path, ids);
    assertNoLoss(ids, consumed, `${F} after catching up`);
    assert.equal(consumed.size, N, 'nothing more than what was published');
    const seqs = messages.map((m) => (m.payload as { seq: number }).seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'served in publish order');

    await cluster.nodes.get(L)!.restart();
    await cluster.waitHealthy();
  });

  await t.test('an old leader\'s uncommitted suffix is truncated when it comes back', async () => {
    // Now F leads partition 0; L and G follow.
    const A = F;
    assert.equal((await cluster.partitionInfo(0)).leader, A);
    const acked = await publishBatches(api, path, 200, 'acknowledged');

    // Both followers die; the leader appends an entry that nobody else will ever have.
    await Promise.all([cluster.nodes.get(L)!.stop('SIGKILL'), cluster.nodes.get(G)!.stop('SIGKILL')]);
    const ghost = `ghost-${randomUUID()}`;
    const leaderApi = await cluster.nodeApi(A);
    const ghostAnswer = leaderApi
      .post(`${path}/messages`, { id: ghost, payload: 'never committed' })
      .then((r) => r.status, (error: Error) => error.message);
    await waitFor(`the ghost entry in ${A}'s log`, async () => (await leaderLogEntries(cluster, A, 0, L)).some((e) => e.msgId === ghost), { timeoutMs: 5_000, retryErrors: true });
    const isrAtKill = (await cluster.partitionInfo(0)).isr;
    await cluster.nodes.get(A)!.stop('SIGKILL');
    assert.notEqual(await ghostAnswer, 201, 'an entry only the leader had was never acknowledged');
    assert.ok(isrAtKill.includes(L), `the ISR still named ${L} when ${A} died (${isrAtKill}); the scenario needs the kill within the replica lag max`);

    // No ISR member is alive: offline, not an out-of-sync leader (DESIGN §4).
    await cluster.waitPartition(0, (p) => p.leader === null, 'offline');
    // L first, so that it is the one restored as leader; then G.
    await cluster.nodes.get(L)!.restart();
    await cluster.waitPartition(0, (p) => p.leader === L, `${L} (an ISR member) leads again`);
    await cluster.nodes.get(G)!.restart();

    await cluster.nodes.get(A)!.restart();
    // The restored ISR still names A (it was in the ISR when the partition went offline), so
    // the map looks healthy at once: wait for the truncation itself, then for a full ISR.
    const truncation = /"msg":"truncating a divergent log suffix","node":"[^"]+","partition":0,/;
    await waitFor(`${A} to truncate its divergent suffix of partition 0`, () => truncation.test(cluster.nodes.get(A)!.log()), { timeoutMs: 30_000, intervalMs: 100, retryErrors: true });
    await cluster.waitHealthy();

    // The truncated node leads: the ghost is nowhere, every acknowledged message is there.
    await cluster.nodes.get(L)!.stop('SIGKILL');
    await cluster.waitPartition(0, (p) => p.leader === A, `${A} leads`);
    const entries = await leaderLogEntries(cluster, A, 0, G);
    assert.ok(!entries.some((e) => e.msgId === ghost), `the ghost is not in ${A}'s log any more`);
    const { ids } = await consumeAll(api, path, acked);
    assertNoLoss(acked, ids, 'after truncation and another failover');
    assert.ok(!ids.has(ghost), 'the ghost was never delivered');
    assert.equal(ids.size, acked.length, 'exactly the acknowledged messages');
  });
});
