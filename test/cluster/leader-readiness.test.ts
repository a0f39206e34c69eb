/**
 * A new leader answers only once it knows everything committed before its epoch (its own
 * first entry is applied): until then it says 503, never "not found" for something that was
 * acknowledged. Repro: a queue declared (201) at the leader, then the leader and one follower
 * die at once; the last follower leads alone, below min ISR, and must not answer 404.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expectStatus, uniqueName } from '../helpers/http-api';
import { startCluster } from '../helpers/cluster';
import { nameInPartition, queuePath } from '../helpers/workloads';

test('a leader that has not caught up answers 503, then serves what was acknowledged before the failover', { timeout: 180_000 }, async (t) => {
  const cluster = await startCluster(t, { nodes: 3, partitions: 2, replicaLagMaxMs: 3_000 });
  const api = await cluster.api();
  const exchange = uniqueName('ready');
  await api.declareExchange(exchange);
  const initial = await cluster.partitionInfo(0);
  const [L, F, G] = initial.replicas as [string, string, string];
  const queue = nameInPartition(cluster, exchange, 0, 'q');
  const leaderApi = await cluster.nodeApi(L);
  expectStatus(await leaderApi.put(queuePath(exchange, queue)), [201], 'declare at the leader');

  await Promise.all([cluster.nodes.get(L)!.stop('SIGKILL'), cluster.nodes.get(G)!.stop('SIGKILL')]);
  await cluster.waitPartition(0, (p) => p.leader === F, `${F} to lead partition 0`);
  const survivor = await cluster.nodeApi(F);
  for (let i = 0; i < 10; i++) {
    const stats = await survivor.get(queuePath(exchange, queue));
    assert.notEqual(stats.status, 404, `the acknowledged queue must not be reported missing: ${JSON.stringify(stats.body)}`);
    if (stats.status === 200) break;
    expectStatus(stats, [503], 'a leader below min ISR that has not caught up');
  }

  await cluster.nodes.get(G)!.restart();
  const served = await (async () => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const stats = await survivor.get(queuePath(exchange, queue));
      if (stats.status === 200 || Date.now() > deadline) return stats;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  expectStatus(served, [200], 'the queue is served once the leader caught up');
});
