import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { DEFAULT_QUEUE_OPTIONS, type LogEntry } from '../../src/core/entries';
import { NodeStore } from '../../src/store/node-store';
import { waitFor } from '../helpers/wait';

function openStore(t: TestContext, dir = mkdtempSync(join(tmpdir(), 'mom-store-'))): { store: NodeStore; dir: string } {
  const store = NodeStore.open(dir, 'batch');
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, dir };
}

function publish(name: string, id: string, at = Date.now()): LogEntry {
  return { type: 'publish', target: 'queue', exchange: 'ex', name, message: { id, producerId: undefined, payload: `"${id}"`, headers: undefined, publishedAt: at } };
}

async function commit(store: NodeStore, partition: number, epoch: number, entries: LogEntry[]) {
  return store.writes.submit(() => store.applyAppended(partition, store.append(partition, epoch, entries), entries));
}

test('publishes to a declared queue become pending rows read in offset order', async (t) => {
  const { store } = openStore(t);
  await commit(store, 3, 1, [{ type: 'queue.declare', exchange: 'ex', queue: 'q', options: DEFAULT_QUEUE_OPTIONS, at: 1 }]);
  const effects = await commit(store, 3, 1, [publish('q', 'a'), publish('q', 'b'), publish('missing', 'c')]);
  assert.deepEqual(effects.map((e) => e.kind), ['published', 'published', 'none']);
  const inbox = store.catalog.inbox('q:ex/q')!;
  assert.deepEqual(store.readyAfter(3, inbox.id, -1, 10).map((row) => row.msg_id), ['a', 'b']);
  assert.deepEqual(store.readyAfter(3, inbox.id, 1, 10).map((row) => row.msg_id), ['b']);
  assert.deepEqual(store.position(3), { logStart: 0, logEnd: 4, applied: 4 });
});

test('settle: ack removes, retry counts failures, max_deliveries and dead move to dead letters', async (t) => {
  const { store } = openStore(t);
  await commit(store, 0, 1, [{ type: 'queue.declare', exchange: 'ex', queue: 'q', options: { ...DEFAULT_QUEUE_OPTIONS, max_deliveries: 2 }, at: 1 }]);
  await commit(store, 0, 1, [publish('q', 'a'), publish('q', 'b'), publish('q', 'c')]);
  const inbox = store.catalog.inbox('q:ex/q')!;
  const settle = (messages: number[], outcome: 'ack' | 'retry' | 'dead') =>
    commit(store, 0, 1, [{ type: 'settle', inbox: 'q:ex/q', messages, outcome, reason: outcome === 'dead' ? 'rejected' : 'nack', at: 2 }]);
  await settle([1], 'ack');
  const [retried] = await settle([2], 'retry');
  assert.deepEqual(retried, { kind: 'settled', inbox: inbox.id, results: [{ offset: 2, state: 'ready', failures: 1 }] });
  const [second] = await settle([2], 'retry');
  assert.deepEqual(second, { kind: 'settled', inbox: inbox.id, results: [{ offset: 2, state: 'dead', failures: 2 }] });
  await settle([3], 'dead');
  assert.deepEqual(store.counts(inbox.id), { ready: 0, dead: 2 });
  assert.deepEqual(store.deadLetters(0, inbox.id, -1, 10).map((row) => [row.msg_id, row.dead_reason]), [['b', 'max_deliveries'], ['c', 'rejected']]);
});

test('state survives reopening: catalog, positions and pending rows come back', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mom-store-'));
  const first = NodeStore.open(dir, 'batch');
  await commit(first, 1, 1, [{ type: 'queue.declare', exchange: 'ex', queue: 'q', options: DEFAULT_QUEUE_OPTIONS, at: 1 }, publish('q', 'kept')]);
  await first.close();
  const { store } = openStore(t, dir);
  const inbox = store.catalog.inbox('q:ex/q');
  assert.ok(inbox);
  assert.deepEqual(store.readyAfter(1, inbox.id, -1, 10).map((row) => row.msg_id), ['kept']);
  assert.equal(store.position(1).logEnd, 2);
});

test('truncate removes an unapplied suffix but never applied entries; epochs bound the truncation point', async (t) => {
  const { store } = openStore(t);
  await store.writes.submit(() => {
    store.recordEpochStart(0, 1, 0);
    store.append(0, 1, [{ type: 'epoch.start', nodeId: 'a' }, publish('q', 'x')]);
    store.recordEpochStart(0, 3, 2);
    store.append(0, 3, [{ type: 'epoch.start', nodeId: 'b' }, publish('q', 'y')]);
    store.applyUpTo(0, 1);
  });
  assert.deepEqual(store.epochEndOffset(0, 1), { epoch: 1, endOffset: 2 });
  assert.deepEqual(store.epochEndOffset(0, 2), { epoch: 1, endOffset: 2 });
  assert.deepEqual(store.epochEndOffset(0, 3), { epoch: 3, endOffset: 4 });
  await assert.rejects(store.writes.submit(() => store.truncate(0, 0)), /below the applied offset/);
  await store.writes.submit(() => store.truncate(0, 2));
  assert.equal(store.position(0).logEnd, 2);
  assert.equal(store.lastEpoch(0), 1);
  assert.deepEqual(store.readLog(0, 0, 10).map((e) => e.offset), [0, 1]);
});

test('replicated appends keep leader offsets, accept compaction gaps and refuse stale epochs', async (t) => {
  const { store } = openStore(t);
  await store.writes.submit(() =>
    store.appendReplicated(2, [
      { offset: 0, epoch: 2, entry: { type: 'epoch.start', nodeId: 'l' } },
      { offset: 5, epoch: 2, entry: publish('q', 'p5') },
    ]),
  );
  assert.equal(store.position(2).logEnd, 6);
  assert.equal(store.lastEpoch(2), 2);
  await assert.rejects(
    store.writes.submit(() => store.appendReplicated(2, [{ offset: 6, epoch: 1, entry: publish('q', 'old') }])),
    /older than the log's epoch/,
  );
  assert.deepEqual(store.readLog(2, 0, 10).map((e) => e.offset), [0, 5]);
});

test('compaction drops settled entries and acked messages, keeps what is pending', async (t) => {
  const { store } = openStore(t);
  await commit(store, 0, 1, [{ type: 'queue.declare', exchange: 'ex', queue: 'q', options: DEFAULT_QUEUE_OPTIONS, at: 1 }]);
  await commit(store, 0, 1, [publish('q', 'acked'), publish('q', 'pending')]);
  await commit(store, 0, 1, [{ type: 'settle', inbox: 'q:ex/q', messages: [1], outcome: 'ack', reason: 'nack', at: 2 }]);
  const removed = await store.writes.submit(() => store.compact(0, Number.MAX_SAFE_INTEGER, Date.now()));
  assert.equal(removed, 2, 'the acked publish and its settle entry');
  assert.deepEqual(store.readLog(0, 0, 10).map((e) => e.entry.type), ['queue.declare', 'publish']);
  const inbox = store.catalog.inbox('q:ex/q')!;
  assert.deepEqual(store.readyAfter(0, inbox.id, -1, 10).map((row) => row.msg_id), ['pending']);
});

test('writes submitted in one turn share one transaction and one sync', async (t) => {
  const { store } = openStore(t);
  const before = { groups: store.writes.groups, syncs: store.writes.syncs };
  await Promise.all(Array.from({ length: 50 }, (_, i) => commit(store, 0, 1, [publish('q', `m${i}`)])));
  assert.equal(store.writes.groups - before.groups, 1);
  assert.equal(store.writes.syncs - before.syncs, 1);
  assert.equal(store.position(0).logEnd, 50);
});

test('syncWithin: writes answered at commit get one sync for the whole interval', async (t) => {
  const { store } = openStore(t);
  const before = store.writes.syncs;
  for (let i = 0; i < 5; i++) {
    await store.writes.submit(() => store.append(0, 1, [publish('q', `m${i}`)]), { durable: false });
    store.writes.syncWithin(500, (error) => assert.fail(String(error)));
  }
  assert.equal(store.writes.syncs, before, 'nothing synced before the interval ends');
  await waitFor('the interval sync', () => store.writes.syncs > before);
  await store.writes.idle();
  assert.equal(store.writes.syncs - before, 1, 'one sync covered all five writes');
});

test('a closed store refuses writes with unavailable', async (t) => {
  const { store } = openStore(t);
  await store.close();
  await assert.rejects(store.writes.submit(() => 1), (error: { code?: string }) => error.code === 'unavailable');
});

test('a publish replicated together with its queue declaration survives compaction', async (t) => {
  const { store } = openStore(t);
  await store.writes.submit(() => {
    store.appendReplicated(4, [
      { offset: 0, epoch: 1, entry: { type: 'queue.declare', exchange: 'ex', queue: 'q', options: DEFAULT_QUEUE_OPTIONS, at: 1 } },
      { offset: 1, epoch: 1, entry: publish('q', 'first') },
    ]);
    store.applyUpTo(4, 2);
  });
  await store.writes.submit(() => store.compact(4, Number.MAX_SAFE_INTEGER, Date.now()));
  const inbox = store.catalog.inbox('q:ex/q')!;
  assert.deepEqual(store.readyAfter(4, inbox.id, -1, 10).map((row) => row.msg_id), ['first']);
  await store.writes.submit(() => store.applyAppended(4, store.append(4, 1, [{ type: 'settle', inbox: 'q:ex/q', messages: [1], outcome: 'ack', reason: 'nack', at: 2 }]), [
    { type: 'settle', inbox: 'q:ex/q', messages: [1], outcome: 'ack', reason: 'nack', at: 2 },
  ]));
  // Passes cover a moving window of offsets; two passes wrap around the whole log here.
  let removed = 0;
  for (let pass = 0; pass < 2; pass++) removed += await store.writes.submit(() => store.compact(4, Number.MAX_SAFE_INTEGER, Date.now()));
  assert.equal(removed, 2, 'once acked, the publish and the settle go');
});

test('on a single replica an ack removes the acked publish and itself at once', async (t) => {
  const { store } = openStore(t);
  const declare: LogEntry = { type: 'queue.declare', exchange: 'ex', queue: 'q', options: DEFAULT_QUEUE_OPTIONS, at: 1 };
  await commit(store, 0, 1, [declare, publish('q', 'a'), publish('q', 'b')]);
  const settle: LogEntry = { type: 'settle', inbox: 'q:ex/q', messages: [1], outcome: 'ack', reason: 'nack', at: 2 };
  await store.writes.submit(() => {
    const first = store.append(0, 1, [settle]);
    store.compactApplied(0, first, [settle], store.applyAppended(0, first, [settle]));
  });
  const left = store.readLog(0, 0, 10).map((e) => (e.entry.type === 'publish' ? e.entry.message.id : e.entry.type));
  assert.deepEqual(left, ['queue.declare', 'b']);
});

/**
 * A disk that refuses writes, for real: SQLite's max_page_count makes the next write that needs
 * a new page fail with SQLITE_FULL, as a full file system does.
 */
function fillDisk(store: NodeStore): () => void {
  const pages = store.db.pragma('page_count', { simple: true }) as number;
  store.db.pragma(`max_page_count = ${pages}`);
  return () => store.db.pragma('max_page_count = 1073741823');
}

function replicated(offset: number, epoch: number, entry: LogEntry) {
  return { offset, epoch, entry };
}

test('a write the disk refuses leaves memory as the database is: log end, applied, catalog, epochs', async (t) => {
  const { store } = openStore(t);
  await commit(store, 0, 1, [{ type: 'queue.declare', exchange: 'ex', queue: 'q', options: DEFAULT_QUEUE_OPTIONS, at: 1 }]);
  const before = { ...store.position(0) };
  const epochBefore = store.lastEpoch(0);
  const big = (id: string): LogEntry => {
    const entry = publish('q', id) as Extract<LogEntry, { type: 'publish' }>;
    return { ...entry, message: { ...entry.message, payload: JSON.stringify('x'.repeat(200_000)) } };
  };
  // As a follower copies entries: appended, a new epoch, a new queue, applied; the last,
  // large entry is the one the disk has no room for, after memory already moved.
  const copy = [
    replicated(before.logEnd, 2, { type: 'queue.declare', exchange: 'ex', queue: 'q2', options: DEFAULT_QUEUE_OPTIONS, at: 2 }),
    replicated(before.logEnd + 1, 2, publish('q2', 'small')),
  ];
  const last = replicated(before.logEnd + 2, 2, big('m2'));
  const copyAll = () => {
    store.appendReplicated(0, copy);
    store.applyUpTo(0, before.logEnd + 2);
    assert.equal(store.position(0).logEnd, before.logEnd + 2, 'memory moved inside the transaction');
    assert.ok(store.catalog.inbox('q:ex/q2'));
    store.appendReplicated(0, [last]);
    store.applyUpTo(0, before.logEnd + 3);
  };
  const freeDisk = fillDisk(store);
  await assert.rejects(store.writes.submit(copyAll), (error: { code?: string }) => error.code === 'insufficient_storage');
  assert.deepEqual(store.position(0), before, 'the log end and applied offset did not move');
  assert.equal(store.lastEpoch(0), epochBefore, 'the epoch of the refused entries is not remembered');
  assert.equal(store.catalog.inbox('q:ex/q2'), undefined, 'the queue the refused entries declared does not exist');
  assert.equal(store.health.state, 'failed');
  // While failed, writes are refused at once, without touching the disk.
  await assert.rejects(commit(store, 0, 1, [publish('q', 'later')]), (error: { code?: string }) => error.code === 'insufficient_storage');

  freeDisk();
  await waitFor('the probe to find the disk writable again', () => store.health.writable, { timeoutMs: 10_000 });
  // The same entries are fetched again from the same offset, and stored this time without a hole.
  await store.writes.submit(copyAll);
  assert.deepEqual(store.readLog(0, before.logEnd, 10).map((e) => e.offset), [before.logEnd, before.logEnd + 1, before.logEnd + 2]);
  assert.equal(store.lastEpoch(0), 2);
  assert.ok(store.catalog.inbox('q:ex/q2'));
});
