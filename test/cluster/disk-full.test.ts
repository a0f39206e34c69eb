/**
 * A follower's disk fills up under load, for real (issue 11 §0, DESIGN §5): each node's data
 * dir is its own small tmpfs, and a filler file takes every free byte of one of them.
 *
 * The node whose disk is full must never claim entries it did not store, must leave every ISR
 * at once and hand the partitions it led to other replicas, and once space is back must catch
 * up by fetching what it missed. The proof: make it the only live ISR member, so that it
 * leads, bring the others back (they truncate to its log), and drain: nothing acknowledged
 * may be missing. Before the fix it rejoined with a hole in its log and, made leader, lost
 * every message acknowledged while its disk was full.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitFor } from '../helpers/wait';
import { uniqueName } from '../helpers/http-api';
import { startCluster } from '../helpers/cluster';
import { assertNoLoss, consumeAll, findPartition, nameInPartition, queuePath, startProducers } from '../helpers/workloads';
import { mountTmpfs, type Tmpfs } from '../helpers/tmpfs';

const DISK_MIB = 48;
const FULL_FOR_MS = 3_000;

test('a follower with a full disk leaves the ISR, hands over its leaderships, catches up, and loses nothing when it leads', { timeout: 240_000 }, async (t) => {
  const disks = new Map<string, Tmpfs>();
  for (const id of ['node-1', 'node-2', 'node-3']) disks.set(id, mountTmpfs(t, DISK_MIB));
  const cluster = await startCluster(t, { nodes: 3, partitions: 3, minIsr: 2, replicaLagMaxMs: 10_000, nodeDataDir: (id) => disks.get(id)?.dir });
  const api = await cluster.api();
  const exchange = uniqueName('disk');
  await api.declareExchange(exchange);

  // The victim follows the partition of `followed` and leads the one of `led`.
  const map = await cluster.partitionMap();
  const followedPartition = findPartition(map, (p) => p.leader !== null && p.replicas.length === 3, 'a partition with three replicas');
  const leader = followedPartition.leader!;
  const victim = followedPartition.replicas.find((id) => id !== leader)!;
  const other = followedPartition.replicas.find((id) => id !== leader && id !== victim)!;
  const ledPartition = findPartition(map, (p) => p.leader === victim, `${victim} leads a partition`);
  const followed = nameInPartition(cluster, exchange, followedPartition.partition, 'followed');
  const led = nameInPartition(cluster, exchange, ledPartition.partition, 'led');
  for (const queue of [followed, led]) await api.declareQueue(exchange, queue);

  const producers = [followed, led].map((queue) => startProducers(api, queuePath(exchange, queue), { producers: 2, maxEach: 20_000, maxMs: 120_000 }));
  try {
    await waitFor('publishes acknowledged before the disk fills', () => producers.every((run) => run.acked.size >= 200), { timeoutMs: 30_000, intervalMs: 50, retryErrors: true });

    const filledAt = Date.now();
    disks.get(victim)!.fill();
    const out = await cluster.waitPartition(followedPartition.partition, (p) => !p.isr.includes(victim), `${victim} to leave the ISR of p${followedPartition.partition}`, 30_000);
    const outAfterMs = Date.now() - filledAt;
    const moved = await cluster.waitPartition(ledPartition.partition, (p) => p.leader !== null && p.leader !== victim, `p${ledPartition.partition} to move away from ${victim}`, 30_000);
    console.log(`disk full on ${victim}: out of the ISR of p${followedPartition.partition} after ${outAfterMs} ms (ISR ${out.isr.join(',')}); p${ledPartition.partition} now led by ${moved.leader}`);
    const ackedWhileFull = producers.map((run) => run.acked.size);
    await new Promise((resolve) => setTimeout(resolve, FULL_FOR_MS));
    assert.ok(producers.every((run, i) => run.acked.size > ackedWhileFull[i]!), 'both queues keep acknowledging publishes while the disk is full');

    disks.get(victim)!.free();
    await cluster.waitPartition(followedPartition.partition, (p) => p.isr.includes(victim), `${victim} to rejoin the ISR of p${followedPartition.partition}`, 60_000);
    await cluster.waitPartition(ledPartition.partition, (p) => p.isr.includes(victim), `${victim} to rejoin the ISR of p${ledPartition.partition}`, 60_000);
  } finally {
    await Promise.all(producers.map((run) => run.stop()));
  }
  const acknowledged = producers.flatMap((run) => [...run.acked.keys()]);
  console.log(`acknowledged ${acknowledged.length}; refused ${JSON.stringify(producers.map((run) => Object.fromEntries(run.refused)))}`);

  // The victim becomes the only live ISR member of both partitions, and so their leader.
  await Promise.all([leader, other].map((id) => cluster.nodes.get(id)!.stop('SIGKILL')));
  for (const partition of [followedPartition.partition, ledPartition.partition]) {
    await cluster.waitPartition(partition, (p) => p.leader === victim, `${victim} to lead p${partition}`, 30_000);
  }
  // The others come back as its followers: whatever it lacks, they now drop too.
  await Promise.all([leader, other].map((id) => cluster.nodes.get(id)!.restart()));
  await cluster.waitHealthy(60_000);

  const consumed = new Set<string>();
  for (const queue of [followed, led]) {
    const expected = producers[queue === followed ? 0 : 1]!.acked.keys();
    for (const id of (await consumeAll(api, queuePath(exchange, queue), expected, 60_000)).ids) consumed.add(id);
  }
  assertNoLoss(acknowledged, consumed, `after ${victim}, whose disk was full, led`);
  assert.match(cluster.nodes.get(victim)!.log(), /the disk refused a write/);
});
