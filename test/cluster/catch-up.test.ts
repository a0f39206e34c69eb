/**
 * A follower that was away catches up (DESIGN §5): it is SIGKILLed, messages are published
 * without it, it restarts on its data dir, rejoins the ISR, and — once the leader is killed
 * and it leads — serves every one of those messages.
 *
 * Then the end-to-end effect of divergence truncation: a leader appends an entry that no
 * follower has (both followers are frozen), dies; the followers thaw and one of them leads;
 * the old leader comes back as a follower,
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

/** The follower's long-poll wait on a fetch (src/log/partition-follower.ts). */
const FOLLOWER_FETCH_WAIT_MS = 500;

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

    // Both followers freeze; the leader appends an entry that nobody else will ever have, and
    // dies. The followers thaw before their ZooKeeper sessions (4 s) or the leader's lag bound
    // (3 s) end (about 1.5 s here), so they are still in the ISR: killing them instead would let the controller
    // drop them from it before the leader's own session ended, and the partition would wait
    // offline for the leader, its last ISR member (as in Kafka).
    for (const id of [L, G]) cluster.nodes.get(id)!.signal('SIGSTOP');
    // A frozen follower still reads, once thawed, what the leader sent it meanwhile: the
    // answer to its last fetch, which the leader gives within the fetch wait (500 ms) even
    // without data. Once that is out, nothing more goes to it, and the ghost stays on A alone.
    await new Promise((resolve) => setTimeout(resolve, FOLLOWER_FETCH_WAIT_MS + 700));
    const ghost = `ghost-${randomUUID()}`;
    const leaderApi = await cluster.nodeApi(A);
    const ghostAnswer = leaderApi
      .post(`${path}/messages`, { id: ghost, payload: 'never committed' })
      .then((r) => r.status, (error: Error) => error.message);
    try {
      await waitFor(`the ghost entry in ${A}'s log`, async () => (await leaderLogEntries(cluster, A, 0, L)).some((e) => e.msgId === ghost), { timeoutMs: 2_000, intervalMs: 50, retryErrors: true });
    } finally {
      const isrAtKill = (await cluster.partitionInfo(0)).isr;
      await cluster.nodes.get(A)!.stop('SIGKILL');
      for (const id of [L, G]) cluster.nodes.get(id)!.signal('SIGCONT');
      assert.ok(isrAtKill.includes(L) && isrAtKill.includes(G), `the ISR still named ${L} and ${G} when ${A} died (${isrAtKill}); the scenario needs the kill within the replica lag max`);
    }
    assert.notEqual(await ghostAnswer, 201, 'an entry only the leader had was never acknowledged');

    // The first live ISR member in replica order leads; A's session ends after its kill.
    await cluster.waitPartition(0, (p) => p.leader === L, `${L} (an ISR member) leads`);

    await cluster.nodes.get(A)!.restart();
    // Wait for the truncation itself, then for A back in a full ISR.
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
