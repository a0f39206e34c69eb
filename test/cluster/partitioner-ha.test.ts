/**
 * Controller high availability (DESIGN §4): with two partitioners, one is the controller
 * and the other stands by. When the active one is SIGKILLed, the other wins the election
 * with a higher controller epoch, and then still handles a node failure: the dead leader's
 * partitions get a new leader from their ISR and publishes through the gateway succeed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '../helpers/wait';
import { expectStatus, uniqueName } from '../helpers/http-api';
import { startCluster, type PartitionMap } from '../helpers/cluster';
import type { ClusterProcess } from '../helpers/managed-process';
import { assertNoLoss, consumeAll, nameInPartition, queuePath } from '../helpers/workloads';

async function mapFrom(url: string): Promise<PartitionMap> {
  const response = await fetch(`${url}/partitions`);
  assert.equal(response.status, 200);
  return (await response.json()) as PartitionMap;
}

test('partitioner HA: the standby takes over as controller and still fails nodes over', { timeout: 180_000 }, async (t) => {
  // The gateway reads the map from the standby (part-2), which survives.
  const cluster = await startCluster(t, { nodes: 3, partitions: 4, partitioners: 2, gatewayPartitioner: 1 });
  const [active, standby] = cluster.partitioners as [ClusterProcess, ClusterProcess];
  const api = await cluster.api();
  const exchange = uniqueName('ha');
  await api.declareExchange(exchange);

  const before = await mapFrom(active.url);
  assert.equal(before.controller?.id, active.id, 'the first partitioner is the controller');
  assert.equal((await mapFrom(standby.url)).controller, null, 'the standby says it is not the controller');
  const epochBefore = before.controller!.epoch;

  // Messages acknowledged before anything dies.
  const queue = nameInPartition(cluster, exchange, 0, 'ha');
  const path = queuePath(exchange, queue);
  await api.declareQueue(exchange, queue);
  const published = await api.post(`${path}/messages`, { messages: Array.from({ length: 50 }, (_, i) => ({ payload: i })) });
  expectStatus(published, [201], 'publish before the failures');
  const acked: string[] = [...published.body.ids];

  await t.test('the active controller dies; the standby takes over with a higher epoch', async () => {
    const killedAt = performance.now();
    await active.stop('SIGKILL');
    const after = (await waitFor(
      `${standby.id} to become the controller`,
      async () => {
        const map = await mapFrom(standby.url);
        return map.controller?.id === standby.id ? map : false;
      },
      { timeoutMs: 30_000, intervalMs: 50, retryErrors: true },
    )) as PartitionMap;
    console.log(`controller takeover: ${Math.round(performance.now() - killedAt)} ms after SIGKILL of ${active.id} (session timeout ${cluster.sessionTimeoutMs} ms)`);
    assert.ok(after.controller!.epoch > epochBefore, `controller epoch ${after.controller!.epoch} > ${epochBefore}`);
    assert.match(standby.log(), /"msg":"active controller"/);
  });

  await t.test('the new controller fails a dead leader over to its ISR', async () => {
    const map = await mapFrom(standby.url);
    const p0 = map.partitions[0]!;
    const victim = p0.leader!;
    await cluster.nodes.get(victim)!.stop('SIGKILL');
    const moved = await cluster.waitPartition(0, (p) => p.leader !== null && p.leader !== victim, `a new leader instead of ${victim}`);
    assert.ok(p0.isr.includes(moved.leader!), `the new leader ${moved.leader} comes from the ISR ${p0.isr}`);
    assert.ok(moved.leader_epoch > p0.leader_epoch, 'with a higher leader epoch');
    assert.match(standby.log(), /"msg":"partition leader changed"[^\n]*"partition":0,"change":"failover"/, `${standby.id} made the change`);

    const response = await api.post(`${path}/messages`, { payload: 'after both failures' });
    expectStatus(response, [201], 'publish through the gateway after both failures');
    acked.push(...response.body.ids);
    const { ids } = await consumeAll(api, path, acked);
    assertNoLoss(acked, ids, 'after the controller and a leader died');
  });
});
