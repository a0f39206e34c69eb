/**
 * Fencing (DESIGN §4, §5) in a real cluster:
 *
 * - inter-node gRPC needs the cluster secret;
 * - a Fetch carrying another leader epoch than the leader's, or from a node that is not a
 *   replica, or sent to a node that does not lead, is refused;
 * - a leader cut from ZooKeeper stops acknowledging writes once it has been disconnected
 *   for the session timeout: with ZooKeeper stopped, direct publishes to every leader answer
 *   an error (421/503), never 201, from session timeout + a margin on. With ZooKeeper back
 *   (same port and data dir) the cluster recovers and nothing acknowledged is lost.
 * - a leader cut from ZooKeeper alone (its proxy cut) stops acknowledging the same way while
 *   the controller moves its partitions to an ISR member: two leaders of one partition never
 *   both acknowledge, and nothing acknowledged by either is lost.
 */
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { test } from 'node:test';
import { expectStatus, uniqueName, type Api } from '../helpers/http-api';
import { startCluster } from '../helpers/cluster';
import { rawFetch } from '../helpers/replication';
import { assertNoLoss, consumeAll, nameInPartition, queuePath } from '../helpers/workloads';

/** After the session timeout, this much more for the fence to act and requests in flight to end. */
const FENCE_MARGIN_MS = 1_500;
/** How long publishes are watched after the fence deadline, ZooKeeper still down. */
const OBSERVE_AFTER_FENCE_MS = 3_000;

test('fencing: cluster secret, leader epochs, and leaders that lose ZooKeeper', { timeout: 240_000 }, async (t) => {
  const cluster = await startCluster(t, { nodes: 3, partitions: 4, sessionTimeoutMs: 4_000, zkProxyFor: ['node-1', 'node-2', 'node-3'] });
  const map = await cluster.partitionMap();
  const p0 = map.partitions[0]!;
  const leader = cluster.nodes.get(p0.leader!)!;
  const follower = p0.replicas.find((id) => id !== p0.leader)!;

  await t.test('replication calls without the right cluster secret are refused', async () => {
    const request = { partition: 0, followerId: follower, leaderEpoch: p0.leader_epoch, fetchOffset: 0, maxEntries: 1 };
    const anonymous = await rawFetch(leader.grpc!, request, undefined);
    assert.ok(!anonymous.ok, 'a Fetch without a secret is refused');
    assert.equal(anonymous.error.code, status.UNAUTHENTICATED);
    assert.match(anonymous.error.details, /secret/i);
    const forged = await rawFetch(leader.grpc!, request, `${cluster.clusterSecret}x`);
    assert.ok(!forged.ok, 'a Fetch with a wrong secret is refused');
    assert.equal(forged.error.code, status.UNAUTHENTICATED);
    const empty = await rawFetch(leader.grpc!, request, '');
    assert.ok(!empty.ok, 'an empty secret is refused');
    assert.equal(empty.error.code, status.UNAUTHENTICATED);
    // The same request with the secret is answered: the refusals were about the secret.
    const genuine = await rawFetch(leader.grpc!, request, cluster.clusterSecret);
    assert.ok(genuine.ok, `with the secret: ${genuine.ok ? '' : genuine.error.details}`);
    assert.equal(genuine.response.leaderEpoch, p0.leader_epoch);
  });

  await t.test('a Fetch with another leader epoch, from a non-replica, or to a non-leader is refused', async () => {
    const info = await cluster.partitionInfo(0);
    const base = { partition: 0, followerId: follower, fetchOffset: 0, maxEntries: 1 };
    const stale = await rawFetch(leader.grpc!, { ...base, leaderEpoch: info.leader_epoch - 1 }, cluster.clusterSecret);
    assert.ok(!stale.ok, 'a stale epoch is refused');
    assert.equal(stale.error.code, status.FAILED_PRECONDITION);
    assert.equal(stale.momCode, 'stale_epoch');
    const future = await rawFetch(leader.grpc!, { ...base, leaderEpoch: info.leader_epoch + 1 }, cluster.clusterSecret);
    assert.ok(!future.ok, 'an epoch this leader does not have is refused too');
    assert.equal(future.momCode, 'stale_epoch');
    const stranger = await rawFetch(leader.grpc!, { ...base, followerId: 'node-99', leaderEpoch: info.leader_epoch }, cluster.clusterSecret);
    assert.ok(!stranger.ok, 'a node that is not a replica is refused');
    assert.equal(stranger.error.code, status.PERMISSION_DENIED);
    const notLeader = await rawFetch(cluster.nodes.get(follower)!.grpc!, { ...base, leaderEpoch: info.leader_epoch }, cluster.clusterSecret);
    assert.ok(!notLeader.ok, 'a follower serves no Fetch');
    assert.equal(notLeader.momCode, 'not_leader');
  });

  await t.test('with ZooKeeper gone, leaders stop acknowledging after the session timeout; they recover with it', async () => {
    const api = await cluster.api();
    const exchange = uniqueName('fence');
    await api.declareExchange(exchange);
    const current = await cluster.partitionMap();
    // One queue per partition, published to directly at its leader.
    const targets: Array<{ path: string; direct: Api; leader: string }> = [];
    for (const info of current.partitions) {
      const queue = nameInPartition(cluster, exchange, info.partition, 'fenced');
      await api.declareQueue(exchange, queue);
      targets.push({ path: queuePath(exchange, queue), direct: await cluster.nodeApi(info.leader!), leader: info.leader! });
    }
    const acked = new Map<string, string[]>(targets.map((target) => [target.path, []]));
    const publish = async (target: (typeof targets)[number], payload: string) => {
      const sentAt = performance.now();
      const response = await target.direct.post(`${target.path}/messages`, { payload }, { signal: AbortSignal.timeout(15_000) }).catch((error: Error) => ({ status: 0, text: error.message, body: undefined }));
      if (response.status === 201) acked.get(target.path)!.push(...(response.body.ids as string[]));
      return { sentAt, status: response.status, code: response.body?.error?.code as string | undefined };
    };
    for (const target of targets) assert.equal((await publish(target, 'before')).status, 201, `${target.leader} accepts before the outage`);

    await cluster.zk.stop();
    const stoppedAt = performance.now();
    const fenceDeadline = stoppedAt + cluster.sessionTimeoutMs + FENCE_MARGIN_MS;
    const late: string[] = [];
    const refusals = new Map<string, number>();
    let firstRefusal = Infinity;
    await Promise.all(
      targets.map(async (target) => {
        for (let i = 0; performance.now() < fenceDeadline + OBSERVE_AFTER_FENCE_MS; i++) {
          const answer = await publish(target, `during-${i}`);
          if (answer.status !== 201) {
            firstRefusal = Math.min(firstRefusal, performance.now() - stoppedAt);
            const key = `${answer.status} ${answer.code ?? ''}`.trim();
            refusals.set(key, (refusals.get(key) ?? 0) + 1);
          } else if (answer.sentAt >= fenceDeadline) {
            late.push(`${target.leader} acknowledged a publish sent ${Math.round(answer.sentAt - stoppedAt)} ms after ZooKeeper stopped`);
          }
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }),
    );
    console.log(`ZooKeeper down: first refusal after ${Math.round(firstRefusal)} ms; refusals ${JSON.stringify(Object.fromEntries(refusals))}`);
    assert.deepEqual(late, [], 'no leader acknowledged a write once it had been cut off for the session timeout');
    for (const [key] of refusals) assert.match(key, /^(421 not_leader|503 \w+|504 timeout)$/, `a refusal is 421 or 503: ${key}`);
    assert.ok(firstRefusal <= cluster.sessionTimeoutMs + FENCE_MARGIN_MS, `leaders refused within the session timeout + ${FENCE_MARGIN_MS} ms`);
    for (const node of cluster.nodes.values()) assert.match(node.log(), /"msg":"stopped leading every partition"/, `${node.id} fenced itself`);

    await cluster.zk.restart!();
    await cluster.waitHealthy(60_000);
    for (const target of targets) {
      const response = await api.post(`${target.path}/messages`, { payload: 'after' });
      expectStatus(response, [201], `publish to ${target.path} after ZooKeeper came back`);
      acked.get(target.path)!.push(...response.body.ids);
      const { ids } = await consumeAll(api, target.path, acked.get(target.path)!);
      assertNoLoss(acked.get(target.path)!, ids, `${target.path} after the ZooKeeper outage`);
    }
  });

  await t.test('a leader cut from ZooKeeper alone is fenced while its partitions fail over', async () => {
    await cluster.waitHealthy();
    const api = await cluster.api();
    const exchange = uniqueName('cut');
    await api.declareExchange(exchange);
    const current = await cluster.partitionMap();
    const victim = current.partitions[0]!.leader!;
    const led = current.partitions.filter((p) => p.leader === victim);
    const direct = await cluster.nodeApi(victim);
    const paths = led.map((p) => queuePath(exchange, nameInPartition(cluster, exchange, p.partition, 'cut')));
    const acked = new Map<string, string[]>(paths.map((path) => [path, []]));
    for (const path of paths) {
      await api.put(path);
      const response = await direct.post(`${path}/messages`, { payload: 'before' });
      expectStatus(response, [201], `${victim} accepts before the cut`);
      acked.get(path)!.push(...response.body.ids);
    }

    cluster.zkProxies.get(victim)!.cut();
    const cutAt = performance.now();
    const fenceDeadline = cutAt + cluster.sessionTimeoutMs + FENCE_MARGIN_MS;
    const late: string[] = [];
    const windows: number[] = [];
    await Promise.all(
      paths.flatMap((path) => [
        // Straight to the cut-off leader: refused once it has been cut off for the session timeout.
        (async () => {
          for (let i = 0; performance.now() < fenceDeadline + OBSERVE_AFTER_FENCE_MS; i++) {
            const sentAt = performance.now();
            const response = await direct.post(`${path}/messages`, { payload: `direct-${i}` }, { signal: AbortSignal.timeout(15_000) }).catch(() => undefined);
            if (response?.status === 201) {
              acked.get(path)!.push(...response.body.ids);
              if (sentAt >= fenceDeadline) late.push(`${victim} acknowledged a publish sent ${Math.round(sentAt - cutAt)} ms after the cut`);
            }
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        })(),
        // Through the gateway: served by the new leader once the controller moved the partition.
        (async () => {
          for (let i = 0; performance.now() < fenceDeadline + OBSERVE_AFTER_FENCE_MS; i++) {
            const response = await api.post(`${path}/messages`, { payload: `gateway-${i}` });
            if (response.status === 201) {
              acked.get(path)!.push(...response.body.ids);
              const info = await cluster.route(exchange, path.split('/').pop()!);
              if (windows.length < paths.length && info.leader !== victim) windows.push(performance.now() - cutAt);
            }
          }
        })(),
      ]),
    );
    assert.deepEqual(late, [], 'the cut-off leader acknowledged nothing after the session timeout');
    const map = await cluster.partitionMap();
    for (const before of led) {
      const now = map.partitions[before.partition]!;
      assert.ok(now.leader !== null && now.leader !== victim && before.isr.includes(now.leader), `p${before.partition} moved to an ISR member: ${JSON.stringify(now)}`);
    }
    assert.match(cluster.nodes.get(victim)!.log(), /"msg":"stopped leading every partition"/, `${victim} fenced itself`);
    console.log(`leader cut from ZooKeeper: gateway publishes served by the new leader ${windows.map(Math.round).join(', ')} ms after the cut`);

    cluster.zkProxies.get(victim)!.heal();
    await cluster.waitHealthy(60_000);
    for (const path of paths) {
      const { ids } = await consumeAll(api, path, acked.get(path)!);
      assertNoLoss(acked.get(path)!, ids, `${path}: acknowledged by the old or the new leader`);
    }
  });
});
