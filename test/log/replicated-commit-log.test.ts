import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { EmbeddedCoordinator } from '../../src/coordination/embedded-coordinator';
import type { PartitionState } from '../../src/coordination/coordinator';
import { DEFAULT_QUEUE_OPTIONS, type LogEntry } from '../../src/core/entries';
import { ReplicatedCommitLog } from '../../src/log/replicated-commit-log';
import { PartitionFollower } from '../../src/log/partition-follower';
import { ReplicationPeers } from '../../src/replication/replication-client';
import { ReplicationServer } from '../../src/replication/replication-server';
import { silentLogger } from '../../src/runtime/logger';
import { NodeStore } from '../../src/store/node-store';
import { fetchOnce } from '../helpers/replication';
import { waitFor } from '../helpers/wait';

const SECRET = 'test-cluster-secret';

function tempStore(t: TestContext): NodeStore {
  const dir = mkdtempSync(join(tmpdir(), 'mom-repl-'));
  const store = NodeStore.open(dir, 'batch');
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

function publish(id: string): LogEntry {
  return { type: 'publish', target: 'queue', exchange: 'ex', name: 'q', message: { id, producerId: undefined, payload: `"${id}"`, headers: undefined, publishedAt: Date.now() } };
}

/** A leader log for partition 0 on store `a`, with replicas a and b, served over real gRPC. */
async function startLeader(
  t: TestContext,
  store: NodeStore,
  options: { minIsr?: number; secret?: string; epoch?: number; replicas?: string[]; isLive?: (nodeId: string) => boolean } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'mom-coord-'));
  const coordinator = new EmbeddedCoordinator(dir);
  await coordinator.start();
  const replicas = options.replicas ?? ['a', 'b'];
  const initial = { partition: 0, replicas, leader: 'a', leaderEpoch: options.epoch ?? 1, isr: replicas };
  await coordinator.createPartition(initial);
  const state = (await coordinator.getPartition(0)) as PartitionState;
  let deposed = false;
  const log = new ReplicatedCommitLog({
    store,
    coordinator,
    state,
    nodeId: 'a',
    minInsyncReplicas: options.minIsr ?? 2,
    replicaLagMaxMs: 400,
    // A silent registered follower is taken for alive after 1.4 s (isr-policy.ts).
    sessionTimeoutMs: 400,
    logger: silentLogger,
    onDeposed: () => {
      deposed = true;
    },
    isLive: options.isLive ?? (() => true),
  });
  await log.start();
  const server = new ReplicationServer({ host: '127.0.0.1', port: 0, clusterSecret: options.secret ?? SECRET, logger: silentLogger, leaderLog: (p) => (p === 0 ? log : undefined) });
  await server.start();
  t.after(async () => {
    log.close();
    await server.close();
    await coordinator.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { log, server, coordinator, isDeposed: () => deposed };
}

function startFollower(t: TestContext, store: NodeStore, address: string, epoch = 1, secret = SECRET): PartitionFollower {
  const peers = new ReplicationPeers(secret);
  const follower = new PartitionFollower({ store, peers, partition: 0, nodeId: 'b', leaderId: 'a', leaderAddress: address, leaderEpoch: epoch, logger: silentLogger });
  follower.start();
  t.after(async () => {
    await follower.close();
    peers.close();
  });
  return follower;
}

test('a commit is answered only once the follower has the entries, and both apply the same state', async (t) => {
  const leaderStore = tempStore(t);
  const followerStore = tempStore(t);
  const { log, server } = await startLeader(t, leaderStore);
  const declare: LogEntry = { type: 'queue.declare', exchange: 'ex', queue: 'q', options: DEFAULT_QUEUE_OPTIONS, at: 1 };
  const pending = log.commit([declare, publish('m1'), publish('m2')], 'all');
  let done = false;
  void pending.then(() => (done = true));
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(done, false, 'no follower fetched yet, so nothing is committed');
  startFollower(t, followerStore, server.address());
  await pending;
  assert.ok(followerStore.position(0).logEnd >= 4, 'the follower holds every committed entry');
  await waitFor('follower to apply up to the high watermark', () => followerStore.position(0).applied >= 4, { timeoutMs: 15_000, retryErrors: true });
  const inbox = followerStore.catalog.inbox('q:ex/q');
  assert.ok(inbox, 'the queue exists on the follower');
  assert.deepEqual(followerStore.readyAfter(0, inbox.id, -1, 10).map((row) => row.msg_id), ['m1', 'm2']);
});

test('acks=leader answers after the local append; acks=all waits for the ISR', async (t) => {
  const leaderStore = tempStore(t);
  const { log } = await startLeader(t, leaderStore);
  await log.commit([publish('fast')], 'leader');
  assert.equal(leaderStore.position(0).applied, 0, 'not applied: the follower has not confirmed it');
});

test('with the follower gone the leader shrinks the ISR and refuses writes below min ISR', async (t) => {
  const leaderStore = tempStore(t);
  const { log, coordinator } = await startLeader(t, leaderStore, { minIsr: 2 });
  await waitFor('ISR to shrink to the leader alone', async () => (await coordinator.getPartition(0))?.isr.join() === 'a', { timeoutMs: 10_000, retryErrors: true });
  assert.deepEqual([...log.inSyncReplicas()], ['a']);
  await assert.rejects(log.commit([publish('refused')], 'all'), (error: { code?: string }) => error.code === 'not_enough_replicas');
});

test('a leader no registered follower reaches resigns, so that they lead without it (chaos scenario 5); an unregistered one is only dropped', async (t) => {
  // b and c are registered but never fetch: this leader is the one cut off. It writes the
  // partition leaderless with ISR [b, c] (the controller elects one of them) instead of
  // shrinking the ISR to itself, which would refuse every write until the cut heals.
  const cutOff = await startLeader(t, tempStore(t), { minIsr: 2, replicas: ['a', 'b', 'c'] });
  await waitFor('the leader to resign', async () => (await cutOff.coordinator.getPartition(0))?.leader === null, { timeoutMs: 10_000, retryErrors: true });
  const resigned = (await cutOff.coordinator.getPartition(0)) as PartitionState;
  assert.deepEqual({ isr: resigned.isr, epoch: resigned.leaderEpoch }, { isr: ['b', 'c'], epoch: 1 });
  assert.equal(cutOff.isDeposed(), true, 'the node is told to step down');
  await assert.rejects(cutOff.log.commit([publish('refused')], 'all'), (error: { code?: string }) => error.code === 'unavailable');

  // Followers that are not registered are dead, not cut off: the ISR shrinks as before.
  const alone = await startLeader(t, tempStore(t), { minIsr: 2, replicas: ['a', 'b', 'c'], isLive: (id) => id === 'a' });
  await waitFor('the ISR to shrink to the leader', async () => (await alone.coordinator.getPartition(0))?.isr.join() === 'a', { timeoutMs: 10_000, retryErrors: true });
  assert.equal((await alone.coordinator.getPartition(0))?.leader, 'a');
  assert.equal(alone.isDeposed(), false);
});

test('a follower that comes back catches up and rejoins the ISR', async (t) => {
  const leaderStore = tempStore(t);
  const followerStore = tempStore(t);
  const { log, coordinator, server } = await startLeader(t, leaderStore, { minIsr: 1 });
  await waitFor('ISR to shrink', async () => (await coordinator.getPartition(0))?.isr.join() === 'a', { timeoutMs: 10_000, retryErrors: true });
  await log.commit([publish('while-away-1'), publish('while-away-2')], 'all');
  startFollower(t, followerStore, server.address());
  await waitFor('follower to rejoin the ISR', async () => (await coordinator.getPartition(0))?.isr.includes('b'), { timeoutMs: 10_000, retryErrors: true });
  assert.ok(followerStore.position(0).logEnd >= leaderStore.position(0).logEnd - 1);
});

test('a follower with a divergent uncommitted suffix truncates it by leader epoch before fetching', async (t) => {
  const leaderStore = tempStore(t);
  const followerStore = tempStore(t);
  // The follower once led epoch 1 and wrote two entries nobody else has.
  await followerStore.writes.submit(() => {
    followerStore.recordEpochStart(0, 1, 0);
    followerStore.append(0, 1, [{ type: 'epoch.start', nodeId: 'b' }, publish('lost-1'), publish('lost-2')]);
  });
  // The leader has epoch 1 with only the first entry, then leads epoch 2.
  await leaderStore.writes.submit(() => {
    leaderStore.recordEpochStart(0, 1, 0);
    leaderStore.append(0, 1, [{ type: 'epoch.start', nodeId: 'b' }]);
  });
  const { log, server } = await startLeader(t, leaderStore, { epoch: 2, minIsr: 1 });
  await log.commit([publish('kept')], 'leader');
  startFollower(t, followerStore, server.address(), 2);
  await waitFor('follower to fetch the new entries', () => followerStore.readLog(0, 0, 10).some((e) => e.entry.type === 'publish' && e.entry.message.id === 'kept'), { timeoutMs: 15_000, retryErrors: true });
  const ids = followerStore.readLog(0, 0, 10).map((e) => (e.entry.type === 'publish' ? e.entry.message.id : e.entry.type));
  assert.deepEqual(ids, ['epoch.start', 'epoch.start', 'kept']);
  assert.equal(followerStore.lastEpoch(0), 2);
});

test('fetches without the cluster secret, or for another epoch, are refused', async (t) => {
  const leaderStore = tempStore(t);
  const { server } = await startLeader(t, leaderStore);
  const request = { partition: 0, followerId: 'b', leaderEpoch: 1, fetchOffset: 0, lastFetchedEpoch: 0, maxWaitMs: 0, maxEntries: 10 };
  await assert.rejects(fetchOnce(server.address(), request, 'wrong-secret'), /cluster secret/);
  await assert.rejects(fetchOnce(server.address(), { ...request, leaderEpoch: 7 }, SECRET), (error: { code?: string }) => error.code === 'stale_epoch');
  const ok = await fetchOnce(server.address(), request, SECRET);
  assert.equal(ok.leaderEpoch, 1);
});

test('a fetch stream carries one answer per request in turn, and refuses as the one-shot fetch does', async (t) => {
  const leaderStore = tempStore(t);
  const { log, server } = await startLeader(t, leaderStore);
  const request = { partition: 0, followerId: 'b', leaderEpoch: 1, fetchOffset: 0, lastFetchedEpoch: 0, maxWaitMs: 0, maxEntries: 10 };

  const wrong = new ReplicationPeers('wrong-secret');
  t.after(() => wrong.close());
  await assert.rejects(wrong.openFetchStream(server.address()).fetch(request, 5_000), /cluster secret/);

  const right = new ReplicationPeers(SECRET);
  t.after(() => right.close());
  const stream = right.openFetchStream(server.address());
  const first = await stream.fetch(request, 5_000);
  assert.deepEqual(
    first.entries.map((e) => e.type),
    ['epoch.start'],
  );
  // The next request waits on the same stream until the leader has more, then carries it.
  const next = stream.fetch({ ...request, fetchOffset: 1, lastFetchedEpoch: 1, maxWaitMs: 2_000 }, 5_000);
  const committed = log.commit([publish('streamed')], 'leader');
  const second = await next;
  await committed;
  assert.deepEqual(
    second.entries.map((e) => [e.offset, e.msgId]),
    [[1, 'streamed']],
  );
  assert.equal(stream.usable, true);

  // A refusal ends the stream with the error's code; later fetches on it fail at once.
  await assert.rejects(stream.fetch({ ...request, leaderEpoch: 7 }, 5_000), (error: { code?: string }) => error.code === 'stale_epoch');
  assert.equal(stream.usable, false);
  await assert.rejects(stream.fetch(request, 5_000), (error: { code?: string }) => error.code === 'stale_epoch');
  const fresh = right.openFetchStream(server.address());
  assert.equal((await fresh.fetch(request, 5_000)).leaderEpoch, 1);
  fresh.close();
});

test('closing the replicator ends open fetch streams at once, so followers go elsewhere', async (t) => {
  const leaderStore = tempStore(t);
  const { server } = await startLeader(t, leaderStore);
  const peers = new ReplicationPeers(SECRET);
  t.after(() => peers.close());
  const stream = peers.openFetchStream(server.address());
  const request = { partition: 0, followerId: 'b', leaderEpoch: 1, fetchOffset: 1, lastFetchedEpoch: 1, maxWaitMs: 5_000, maxEntries: 10 };
  await stream.fetch({ ...request, maxWaitMs: 0 }, 5_000);
  // Ended by the replicator itself, with its reason, rather than cut by a forced shutdown.
  const refused = assert.rejects(stream.fetch(request, 10_000), (error: { code?: string; message?: string }) => error.code === 'unavailable' && /shutting down/.test(error.message ?? ''));
  await server.close();
  await refused;
});
