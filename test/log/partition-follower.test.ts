/**
 * A partition follower (DESIGN §5) against a real ReplicationServer on 127.0.0.1:0 whose
 * leader log is scripted by the test: what the follower writes, what it applies, what it
 * reports back, and how it behaves when the leader refuses or holds its fetches.
 * (test/log/replicated-commit-log.test.ts runs it against a real leader log.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { DEFAULT_QUEUE_OPTIONS, type LogEntry, type StoredEntry } from '../../src/core/entries';
import { MomError } from '../../src/core/errors';
import { PartitionFollower } from '../../src/log/partition-follower';
import { ReplicationPeers } from '../../src/replication/replication-client';
import type { FetchResult, FetchSource, FollowerFetch } from '../../src/replication/fetch-source';
import { ReplicationServer } from '../../src/replication/replication-server';
import { silentLogger } from '../../src/runtime/logger';
import { NodeStore } from '../../src/store/node-store';
import { waitFor } from '../helpers/wait';

const SECRET = 'follower-test-secret';
const EPOCH = 3;

/**
 * The leader side, as the test wants it: a log, a high watermark and a compaction bound the
 * test sets, fetches recorded as they come. A fetch with nothing new waits, as a real leader's
 * does, until something changes or its max wait passes (forever with `hold`).
 */
class ScriptedLeader implements FetchSource {
  readonly epoch = EPOCH;
  readonly fetches: FollowerFetch[] = [];
  log: StoredEntry[] = [];
  highWatermark = 0;
  compactBelow = 0;
  /** Thrown at every fetch while set. */
  refusal: MomError | undefined;
  /** Fetches wait for a change, however long they asked to wait. */
  hold = false;
  private wake: Array<() => void> = [];

  append(...entries: LogEntry[]): void {
    for (const entry of entries) this.log.push({ offset: this.log.length, epoch: EPOCH, entry });
    this.changed();
  }

  set(change: { highWatermark?: number; compactBelow?: number; refusal?: MomError | undefined; hold?: boolean }): void {
    Object.assign(this, change);
    this.changed();
  }

  /** Ends every fetch that waits (at the end of a test too). */
  changed(): void {
    for (const wake of this.wake.splice(0)) wake();
  }

  async handleFetch(fetch: FollowerFetch): Promise<FetchResult> {
    this.fetches.push(fetch);
    if (this.refusal) throw this.refusal;
    const caughtUp = fetch.fetchOffset >= this.log.length;
    if (caughtUp && (this.hold || fetch.maxWaitMs > 0)) {
      await new Promise<void>((resolve) => {
        this.wake.push(resolve);
        if (!this.hold) setTimeout(resolve, fetch.maxWaitMs);
      });
    }
    const entries = this.log.filter((e) => e.offset >= fetch.fetchOffset).slice(0, fetch.maxEntries);
    return { entries, highWatermark: this.highWatermark, compactBelow: this.compactBelow };
  }
}

interface Fixture {
  leader: ScriptedLeader;
  store: NodeStore;
  follower: PartitionFollower;
}

async function follow(t: TestContext): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'mom-follower-'));
  const store = NodeStore.open(dir, 'batch');
  const leader = new ScriptedLeader();
  const server = new ReplicationServer({ host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger, leaderLog: (p) => (p === 0 ? leader : undefined) });
  const peers = new ReplicationPeers(SECRET);
  let follower: PartitionFollower | undefined;
  // One teardown, in order: the follower stops before the leader and the store go.
  t.after(async () => {
    await follower?.close();
    leader.changed();
    await server.close();
    peers.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await server.start();
  follower = new PartitionFollower({ store, peers, partition: 0, nodeId: 'b', leaderId: 'a', leaderAddress: server.address(), leaderEpoch: EPOCH, logger: silentLogger });
  return { leader, store, follower };
}

function publish(id: string): LogEntry {
  return { type: 'publish', target: 'queue', exchange: 'ex', name: 'q', message: { id, producerId: undefined, payload: JSON.stringify(id), headers: undefined, publishedAt: 1 } };
}

function readyIds(store: NodeStore): string[] {
  const inbox = store.catalog.inbox('q:ex/q');
  return inbox ? store.readyAfter(0, inbox.id, -1, 100).map((row) => row.msg_id) : [];
}

test('the follower copies entries at their offsets, applies only up to the high watermark, and reports what it holds', async (t) => {
  const { leader, store, follower } = await follow(t);
  leader.append({ type: 'epoch.start', nodeId: 'a' }, { type: 'queue.declare', exchange: 'ex', queue: 'q', options: DEFAULT_QUEUE_OPTIONS, at: 1 }, publish('m1'), publish('m2'));
  leader.set({ highWatermark: 2 });
  follower.start();

  // Its next fetch asks from its log end: that is how the leader learns what it holds.
  const report = await waitFor('a fetch reporting all four entries', () => leader.fetches.find((f) => f.fetchOffset === 4));
  assert.deepEqual({ followerId: report.followerId, leaderEpoch: report.leaderEpoch, lastFetchedEpoch: report.lastFetchedEpoch }, { followerId: 'b', leaderEpoch: EPOCH, lastFetchedEpoch: EPOCH });
  assert.deepEqual(store.readLog(0, 0, 10), leader.log, 'the same entries at the same offsets and epochs');
  assert.equal(store.position(0).applied, 2, 'nothing above the high watermark is applied');
  assert.ok(store.catalog.inbox('q:ex/q'), 'the declaration below the high watermark is');
  assert.deepEqual(readyIds(store), []);

  leader.set({ highWatermark: 4 });
  await waitFor('the follower to apply up to the new high watermark', () => store.position(0).applied === 4);
  assert.deepEqual(readyIds(store), ['m1', 'm2']);
});

test("the compaction floor is the lower of the leader's bound and what the follower applied", async (t) => {
  const { leader, follower } = await follow(t);
  leader.append({ type: 'epoch.start', nodeId: 'a' }, publish('m1'), publish('m2'), publish('m3'));
  leader.set({ highWatermark: 4, compactBelow: 1 });
  assert.equal(follower.compactionFloor(), 0, 'nothing before the first fetch');
  follower.start();
  await waitFor('the floor of the leader', () => follower.compactionFloor() === 1);
  leader.set({ compactBelow: 10 });
  await waitFor('the floor of what is applied here', () => follower.compactionFloor() === 4);
  leader.set({ compactBelow: 2 });
  await waitFor("the leader's lower floor again", () => follower.compactionFloor() === 2);
});

test('fetches the leader refuses are retried; once it answers, the follower catches up', async (t) => {
  const { leader, store, follower } = await follow(t);
  leader.append({ type: 'epoch.start', nodeId: 'a' }, publish('m1'));
  leader.set({ highWatermark: 2, refusal: new MomError('not_leader', 'not yet') });
  follower.start();
  await waitFor('three refused fetches', () => leader.fetches.length >= 3);
  assert.equal(store.position(0).logEnd, 0, 'nothing was written from a refused fetch');
  leader.set({ refusal: undefined });
  await waitFor('the follower to catch up', () => store.position(0).applied === 2);
});

test('close ends a fetch the leader is holding, and can be called again', { timeout: 20_000 }, async (t) => {
  const { leader, follower } = await follow(t);
  leader.append({ type: 'epoch.start', nodeId: 'a' });
  leader.set({ highWatermark: 1, hold: true });
  follower.start();
  await waitFor('a fetch held by the leader', () => leader.fetches.some((f) => f.fetchOffset === 1));
  // The leader never answers it; the follower's own deadline for it is 5.5 s away (its
  // 500 ms wait + 5 s). Ending well before that means close cancelled it.
  const started = Date.now();
  await follower.close();
  const took = Date.now() - started;
  assert.ok(took < 4_000, `close took ${took} ms: it waited for the fetch's deadline instead of cancelling it`);
  await follower.close();
});
