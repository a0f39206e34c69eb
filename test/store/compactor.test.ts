/**
 * Compaction (DESIGN §3) through a NodeStore in a temp dir: log entries whose effect is over go
 * away, in bounded passes, never at or above the bound the replicas allow; what a consumer may
 * still get stays.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { DEFAULT_QUEUE_OPTIONS, type LogEntry, type TargetKind } from '../../src/core/entries';
import type { NodeStore } from '../../src/store/node-store';
import { appendAndApply, openTempStore } from '../helpers/node-store';

const HOUR_MS = 3_600_000;

function publish(target: TargetKind, name: string, id: string, publishedAt: number, producerId?: string): LogEntry {
  return { type: 'publish', target, exchange: 'ex', name, message: { id, producerId, payload: JSON.stringify(id), headers: undefined, publishedAt } };
}

function ack(inbox: string, messages: number[]): LogEntry {
  return { type: 'settle', inbox, messages, outcome: 'ack', reason: 'nack', at: Date.now() };
}

/** What is left in the partition's log: message ids for publishes, the type otherwise. */
function logOf(store: NodeStore, partition: number): string[] {
  return store.readLog(partition, 0, 10_000).map((e) => (e.entry.type === 'publish' ? e.entry.message.id : e.entry.type));
}

/** Background passes until one has looked at every offset (the window wraps around). */
function compactEverything(store: NodeStore, partition: number): Promise<number> {
  return store.writes.submit(() => store.compact(partition, Number.MAX_SAFE_INTEGER, Date.now()) + store.compact(partition, Number.MAX_SAFE_INTEGER, Date.now()));
}

test('a background pass looks at a bounded window of offsets, and the next one moves on', async (t) => {
  const store = openTempStore(t);
  // More entries than one window (COMPACT_WINDOW, 3,000 offsets); each is over once applied.
  const total = 3_500;
  await appendAndApply(store, 0, 1, Array.from({ length: total }, (): LogEntry => ({ type: 'epoch.start', nodeId: 'n1' })));
  const first = await store.writes.submit(() => store.compact(0, Number.MAX_SAFE_INTEGER, Date.now()));
  assert.ok(first > 0 && first < total, `one pass removed part of the log (${first} of ${total})`);
  const second = await store.writes.submit(() => store.compact(0, Number.MAX_SAFE_INTEGER, Date.now()));
  assert.equal(first + second, total, 'the next pass took the rest');
  assert.deepEqual(logOf(store, 0), []);
});

test('nothing at or above the bound, nor anything not applied yet, is compacted', async (t) => {
  const store = openTempStore(t);
  await appendAndApply(store, 0, 1, Array.from({ length: 5 }, (): LogEntry => ({ type: 'epoch.start', nodeId: 'n1' })));
  // Entries a follower has not fetched yet must stay for it: the leader passes its floor.
  assert.equal(await store.writes.submit(() => store.compact(0, 3, Date.now())), 3);
  assert.deepEqual(store.readLog(0, 0, 10).map((e) => e.offset), [3, 4]);

  await store.writes.submit(() => store.append(0, 1, [{ type: 'epoch.start', nodeId: 'n1' }]));
  assert.equal(await compactEverything(store, 0), 2, 'the two applied entries only');
  assert.deepEqual(store.readLog(0, 0, 10).map((e) => e.offset), [5], 'the unapplied entry stays');
});

test('a topic message past its retention goes once no subscription holds it; a recent one stays for later subscribers', async (t) => {
  const store = openTempStore(t);
  const now = Date.now();
  await appendAndApply(store, 0, 1, [
    { type: 'topic.declare', exchange: 'ex', topic: 'alone', options: { retention_ms: HOUR_MS }, at: now - 3 * HOUR_MS },
    publish('topic', 'alone', 'expired', now - 2 * HOUR_MS),
    publish('topic', 'alone', 'retained', now - 1_000),
  ]);
  assert.equal(await compactEverything(store, 0), 1);
  assert.deepEqual(logOf(store, 0), ['topic.declare', 'retained']);
});

test('a topic message a subscription still holds stays past its retention, until it is acked', async (t) => {
  const store = openTempStore(t);
  const now = Date.now();
  await appendAndApply(store, 0, 1, [
    { type: 'topic.declare', exchange: 'ex', topic: 'held', options: { retention_ms: HOUR_MS }, at: now - 3 * HOUR_MS },
    { type: 'subscription.create', exchange: 'ex', topic: 'held', subscription: 's', from: 'latest', at: now - 3 * HOUR_MS },
    publish('topic', 'held', 'unread', now - 2 * HOUR_MS),
  ]);
  assert.equal(await compactEverything(store, 0), 0);
  assert.deepEqual(logOf(store, 0), ['topic.declare', 'subscription.create', 'unread']);
  await appendAndApply(store, 0, 1, [ack('s:ex/held/s', [2])]);
  assert.equal(await compactEverything(store, 0), 2, 'the publish and its ack');
  assert.deepEqual(logOf(store, 0), ['topic.declare', 'subscription.create']);
});

test('a queue message stays while it is pending or dead-lettered; once acked it goes, and the settles with it', async (t) => {
  const store = openTempStore(t);
  await appendAndApply(store, 0, 1, [
    { type: 'queue.declare', exchange: 'ex', queue: 'q', options: DEFAULT_QUEUE_OPTIONS, at: 1 },
    publish('queue', 'q', 'ready', 2),
    publish('queue', 'q', 'dead', 2),
    publish('queue', 'q', 'acked', 2),
  ]);
  await appendAndApply(store, 0, 1, [
    { type: 'settle', inbox: 'q:ex/q', messages: [2], outcome: 'dead', reason: 'rejected', at: 3 },
    ack('q:ex/q', [3]),
  ]);
  assert.equal(await compactEverything(store, 0), 2, 'the acked publish and its ack');
  assert.deepEqual(logOf(store, 0), ['queue.declare', 'ready', 'dead', 'settle'], "the dead letter's settle stays with its message");
});

test('at apply time only a queue ack removes entries; a nack or a subscription ack leaves them for the background pass', async (t) => {
  const store = openTempStore(t);
  await appendAndApply(store, 0, 1, [
    { type: 'queue.declare', exchange: 'ex', queue: 'q', options: DEFAULT_QUEUE_OPTIONS, at: 1 },
    { type: 'topic.declare', exchange: 'ex', topic: 't', options: { retention_ms: HOUR_MS }, at: 1 },
    { type: 'subscription.create', exchange: 'ex', topic: 't', subscription: 's', from: 'latest', at: 1 },
    publish('queue', 'q', 'nacked', Date.now()),
    publish('topic', 't', 'read', Date.now()),
  ]);
  const applyAndCompact = (entries: LogEntry[]) =>
    store.writes.submit(() => {
      const first = store.append(0, 1, entries);
      store.compactApplied(0, first, entries, store.applyAppended(0, first, entries));
    });
  await applyAndCompact([{ type: 'settle', inbox: 'q:ex/q', messages: [3], outcome: 'retry', reason: 'nack', at: 2 }]);
  await applyAndCompact([ack('s:ex/t/s', [4])]);
  assert.deepEqual(logOf(store, 0), ['queue.declare', 'topic.declare', 'subscription.create', 'nacked', 'read', 'settle', 'settle']);
});

test('dedup ids older than the window go; newer ones stay', async (t) => {
  const store = openTempStore(t);
  await appendAndApply(store, 0, 1, [
    { type: 'queue.declare', exchange: 'ex', queue: 'q', options: DEFAULT_QUEUE_OPTIONS, at: 1 },
    publish('queue', 'q', 'old', 100, 'old'),
    publish('queue', 'q', 'new', 200, 'new'),
  ]);
  assert.equal(await store.writes.submit(() => store.expireDedup(150)), 1);
  assert.equal(store.findDedup('q:ex/q', 'old'), undefined);
  assert.deepEqual(store.findDedup('q:ex/q', 'new'), { msg_id: 'new', ts: 200 });
});

/** What a replica that copies the whole log from `source` and applies it holds in each inbox: ready and dead message ids. */
async function rebuiltReplica(t: TestContext, source: NodeStore, partition: number, inboxes: string[]): Promise<Record<string, { ready: string[]; dead: string[] }>> {
  const replica = openTempStore(t);
  const log = source.readLog(partition, 0, 100_000);
  await replica.writes.submit(() => {
    replica.appendReplicated(partition, log);
    replica.applyUpTo(partition, Number.MAX_SAFE_INTEGER);
  });
  const held: Record<string, { ready: string[]; dead: string[] }> = {};
  for (const key of inboxes) {
    const inbox = replica.catalog.inbox(key);
    assert.ok(inbox, `the replica has ${key}`);
    held[key] = {
      ready: replica.readyAfter(partition, inbox.id, -1, 1_000).map((row) => row.msg_id),
      dead: replica.deadLetters(partition, inbox.id, -1, 1_000).map((row) => row.msg_id),
    };
  }
  return held;
}

test('a replica that copies the compacted log from its start holds what the leader holds: no acked message comes back (chaos scenario 10)', async (t) => {
  const store = openTempStore(t);
  const now = Date.now();
  await appendAndApply(store, 0, 1, [
    { type: 'queue.declare', exchange: 'ex', queue: 'q', options: DEFAULT_QUEUE_OPTIONS, at: now },
    { type: 'topic.declare', exchange: 'ex', topic: 't', options: { retention_ms: HOUR_MS }, at: now },
    { type: 'subscription.create', exchange: 'ex', topic: 't', subscription: 's', from: 'latest', at: now },
    publish('queue', 'q', 'acked', now),
    publish('queue', 'q', 'dead', now),
    publish('queue', 'q', 'purged', now),
    publish('queue', 'q', 'ready', now),
    publish('topic', 't', 'read', now),
  ]);
  // A pass while everything is pending moves the cursor past the publishes (as under load,
  // when it follows the log's end): the settles below come into a later window than their messages.
  assert.equal(await store.writes.submit(() => store.compact(0, Number.MAX_SAFE_INTEGER, now)), 0);
  await appendAndApply(store, 0, 1, [
    ack('q:ex/q', [3]),
    { type: 'settle', inbox: 'q:ex/q', messages: [4], outcome: 'dead', reason: 'rejected', at: now },
    ack('s:ex/t/s', [7]),
  ]);
  await appendAndApply(store, 0, 1, [{ type: 'inbox.purge', inbox: 'q:ex/q', keep: [6], at: now }]);
  assert.equal(await store.writes.submit(() => store.compact(0, Number.MAX_SAFE_INTEGER, now)), 0, 'nothing goes while the publishes they settle are in the log');
  const expected = { 'q:ex/q': { ready: ['ready'], dead: ['dead'] }, 's:ex/t/s': { ready: [], dead: [] } };
  assert.deepEqual(await rebuiltReplica(t, store, 0, Object.keys(expected)), expected);

  // The next passes wrap around: the acked and purged publishes go, then what settled them.
  await compactEverything(store, 0);
  await compactEverything(store, 0);
  assert.deepEqual(logOf(store, 0), ['queue.declare', 'topic.declare', 'subscription.create', 'dead', 'ready', 'read', 'settle', 'settle'], 'the dead letter and its settle; the retained topic message and its ack');
  assert.deepEqual(await rebuiltReplica(t, store, 0, Object.keys(expected)), expected);

  // A redrive of every dead letter stays while what it redrove is in the log.
  await appendAndApply(store, 0, 1, [{ type: 'dead_letters.redrive', inbox: 'q:ex/q', messages: null, at: now }]);
  await compactEverything(store, 0);
  await compactEverything(store, 0);
  assert.deepEqual(logOf(store, 0).slice(-1), ['dead_letters.redrive']);
  assert.deepEqual(await rebuiltReplica(t, store, 0, ['q:ex/q']), { 'q:ex/q': { ready: ['dead', 'ready'], dead: [] } });
});
