import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { DEFAULT_QUEUE_OPTIONS, type LogEntry, type RepairEntry } from '../../src/core/entries';
import { repairPlan, repairStep } from '../../src/core/state-machine';
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
  assert.deepEqual(retried, { kind: 'settled', inbox: inbox.id, results: [{ offset: 2, state: 'ready', failures: 1, changed: true }] });
  const [second] = await settle([2], 'retry');
  assert.deepEqual(second, { kind: 'settled', inbox: inbox.id, results: [{ offset: 2, state: 'dead', failures: 2, changed: true }] });
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

test('repairs: purge keeps the named offsets and dead letters, redrive resets failures, deletion removes; then they compact', async (t) => {
  const { store } = openStore(t);
  await commit(store, 0, 1, [{ type: 'queue.declare', exchange: 'ex', queue: 'q', options: { ...DEFAULT_QUEUE_OPTIONS, max_deliveries: 2 }, at: 1 }]);
  // Offsets 1-6: a..f. b, c and d die (b after two failed deliveries); a, e, f stay ready.
  await commit(store, 0, 1, ['a', 'b', 'c', 'd', 'e', 'f'].map((id) => publish('q', id)));
  const settle = (messages: number[], outcome: 'retry' | 'dead') =>
    commit(store, 0, 1, [{ type: 'settle', inbox: 'q:ex/q', messages, outcome, reason: outcome === 'dead' ? 'rejected' : 'nack', at: 2 }]);
  await settle([2], 'retry');
  await settle([2], 'retry');
  await settle([3, 4], 'dead');
  const inbox = store.catalog.inbox('q:ex/q')!;
  assert.deepEqual(store.counts(inbox.id), { ready: 3, dead: 3 });
  const repair = async (entry: LogEntry) => (await commit(store, 0, 1, [entry]))[0];

  assert.deepEqual(store.deadLetterOffsets(0, inbox.id, ['c', 'a', 'nope']), [3], 'only dead letters are found by id');
  const redriven = await repair({ type: 'dead_letters.redrive', inbox: 'q:ex/q', messages: [2, 3], at: 3 });
  assert.deepEqual(redriven, { kind: 'repaired', offset: 10, inbox: inbox.id, from: 'dead', count: 2, ready: [2, 3] });
  const rows = store.readyAfter(0, inbox.id, -1, 10);
  assert.deepEqual(rows.map((row) => [row.msg_id, row.failures]), [['a', 0], ['b', 0], ['c', 0], ['e', 0], ['f', 0]], 'failures start over');

  const purged = await repair({ type: 'inbox.purge', inbox: 'q:ex/q', keep: [5, 2], at: 4 });
  assert.deepEqual(purged, { kind: 'repaired', offset: 11, inbox: inbox.id, from: 'ready', count: 3, ready: [] });
  assert.deepEqual(store.readyAfter(0, inbox.id, -1, 10).map((row) => row.msg_id), ['b', 'e'], 'the kept (leased) ones stay');
  assert.deepEqual(store.counts(inbox.id), { ready: 2, dead: 1 }, 'the dead letter is not purged');

  await settle([2], 'dead');
  const deletedOne = await repair({ type: 'dead_letters.delete', inbox: 'q:ex/q', messages: [4], at: 5 });
  assert.equal(deletedOne?.kind === 'repaired' && deletedOne.count, 1);
  const deletedAll = await repair({ type: 'dead_letters.delete', inbox: 'q:ex/q', messages: null, at: 6 });
  assert.equal(deletedAll?.kind === 'repaired' && deletedAll.count, 1);
  assert.deepEqual(store.counts(inbox.id), { ready: 1, dead: 0 });
  const gone = await repair({ type: 'inbox.purge', inbox: 'q:ex/missing', keep: [], at: 7 });
  assert.deepEqual(gone, { kind: 'repaired', offset: 15, inbox: null, from: 'ready', count: 0, ready: [] }, 'an inbox that is gone: nothing, still an effect');

  await store.writes.submit(() => store.compact(0, Number.MAX_SAFE_INTEGER, Date.now()));
  assert.deepEqual(
    store.readLog(0, 0, 100).map((e) => (e.entry.type === 'publish' ? e.entry.message.id : e.entry.type)),
    ['queue.declare', 'e'],
    'repairs and the messages they removed compact away',
  );
});

test('a repair in SQL does to each message what repairStep says', async (t) => {
  const { store } = openStore(t);
  await commit(store, 0, 1, [{ type: 'queue.declare', exchange: 'ex', queue: 'q', options: DEFAULT_QUEUE_OPTIONS, at: 1 }]);
  const entries: RepairEntry[] = [
    { type: 'inbox.purge', inbox: 'q:ex/q', keep: [2, 5], at: 2 },
    { type: 'dead_letters.redrive', inbox: 'q:ex/q', messages: null, at: 2 },
    { type: 'dead_letters.redrive', inbox: 'q:ex/q', messages: [1, 4, 6], at: 2 },
    { type: 'dead_letters.delete', inbox: 'q:ex/q', messages: null, at: 2 },
    { type: 'dead_letters.delete', inbox: 'q:ex/q', messages: [3, 4], at: 2 },
  ];
  for (const entry of entries) {
    // Offsets 1-6 pending again for each entry: odd ones dead with failures, even ones ready.
    await commit(store, 0, 1, [{ type: 'queue.delete', exchange: 'ex', queue: 'q' }, { type: 'queue.declare', exchange: 'ex', queue: 'q', options: DEFAULT_QUEUE_OPTIONS, at: 1 }]);
    const inbox = store.catalog.inbox('q:ex/q')!;
    const first = store.position(0).logEnd;
    await commit(store, 0, 1, Array.from({ length: 6 }, (_, i) => publish('q', `m${i}`)));
    const offsets = Array.from({ length: 6 }, (_, i) => first + i);
    await commit(store, 0, 1, [{ type: 'settle', inbox: 'q:ex/q', messages: offsets.filter((_, i) => i % 2 === 0), outcome: 'dead', reason: 'rejected', at: 2 }]);
    const before = new Map(offsets.map((offset, i) => [offset, { failures: i % 2 === 0 ? 1 : 0, dead: i % 2 === 0 }]));
    // The entry's offsets are positions 1-6 of this round.
    const shift = (list: number[]) => list.map((n) => first + n - 1);
    const shifted: RepairEntry =
      entry.type === 'inbox.purge' ? { ...entry, keep: shift(entry.keep) } : { ...entry, messages: entry.messages === null ? null : shift(entry.messages) };
    await commit(store, 0, 1, [shifted]);
    const plan = repairPlan(shifted);
    const ready = new Map(store.readyAfter(0, inbox.id, -1, 100).map((row) => [row.offset, row.failures]));
    const dead = new Set(store.deadLetters(0, inbox.id, -1, 100).map((row) => row.offset));
    for (const [offset, pending] of before) {
      const step = repairStep(pending, offset, plan);
      const expected = step === 'gone' ? 'gone' : (step ?? pending).dead ? 'dead' : `ready/${(step ?? pending).failures}`;
      const actual = ready.has(offset) ? `ready/${ready.get(offset)}` : dead.has(offset) ? 'dead' : 'gone';
      assert.equal(actual, expected, `${entry.type} ${JSON.stringify(plan)} on offset ${offset}`);
    }
  }
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

test('cutBackWal checkpoints a write-ahead log grown past the bound back to nothing, and leaves a smaller one', async (t) => {
  const { store, dir } = openStore(t);
  await commit(store, 0, 1, [{ type: 'queue.declare', exchange: 'ex', queue: 'q', options: DEFAULT_QUEUE_OPTIONS, at: 1 }]);
  await commit(store, 0, 1, Array.from({ length: 200 }, (_, i) => publish('q', `m${i}`)));
  const wal = join(dir, 'node', 'broker.db-wal');
  const grown = statSync(wal).size;
  assert.ok(grown > 0, 'the writes are in the write-ahead log (no checkpoint ran)');
  assert.equal(store.cutBackWal(grown), false, 'not past the bound: left alone');
  assert.equal(statSync(wal).size, grown);
  assert.equal(store.cutBackWal(1024), true);
  assert.equal(statSync(wal, { throwIfNoEntry: false })?.size ?? 0, 0, 'checkpointed and truncated');
  const inbox = store.catalog.inbox('q:ex/q')!;
  assert.equal(store.counts(inbox.id).ready, 200, 'everything is still there');
  await commit(store, 0, 1, [publish('q', 'after')]);
  assert.equal(store.counts(inbox.id).ready, 201, 'and writes go on');
});
