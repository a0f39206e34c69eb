/**
 * The state applier (DESIGN §3): log entries applied to the derived tables of an in-memory
 * SQLite database, no disk. Every derived row records the offset that produced it, and time
 * enters only through timestamps carried in the entries.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type Database from 'better-sqlite3';
import { DEFAULT_QUEUE_OPTIONS, type LogEntry, type QueueOptions, type TargetKind } from '../../src/core/entries';
import { Catalog } from '../../src/store/catalog';
import { openNodeDatabase } from '../../src/store/schema';
import { StateApplier, type ApplyEffect } from '../../src/store/state-applier';

interface Replica {
  db: Database.Database;
  catalog: Catalog;
  /** Applies `entries` to partition `partition` at consecutive offsets from `first`. */
  apply(partition: number, first: number, ...entries: LogEntry[]): ApplyEffect[];
}

function replica(t: TestContext): Replica {
  const { db } = openNodeDatabase(':memory:');
  t.after(() => db.close());
  const catalog = new Catalog();
  const applier = new StateApplier(db, catalog);
  return { db, catalog, apply: (partition, first, ...entries) => entries.map((entry, i) => applier.apply(partition, first + i, entry)) };
}

function declareQueue(queue: string, options: QueueOptions = DEFAULT_QUEUE_OPTIONS, exchange = 'ex'): LogEntry {
  return { type: 'queue.declare', exchange, queue, options, at: 10 };
}

function declareTopic(topic: string, retentionMs = 60_000, exchange = 'ex'): LogEntry {
  return { type: 'topic.declare', exchange, topic, options: { retention_ms: retentionMs }, at: 10 };
}

function subscribe(topic: string, subscription: string, from: 'latest' | 'earliest', at = 20): LogEntry {
  return { type: 'subscription.create', exchange: 'ex', topic, subscription, from, at };
}

type PublishEntry = Extract<LogEntry, { type: 'publish' }>;

function publish(target: TargetKind, name: string, id: string, options: { producerId?: string; publishedAt?: number; exchange?: string } = {}): PublishEntry {
  return {
    type: 'publish',
    target,
    exchange: options.exchange ?? 'ex',
    name,
    message: { id, producerId: options.producerId, payload: JSON.stringify(id), headers: undefined, publishedAt: options.publishedAt ?? 30 },
  };
}

function settle(inbox: string, messages: number[], outcome: 'ack' | 'retry' | 'dead'): LogEntry {
  return { type: 'settle', inbox, messages, outcome, reason: outcome === 'dead' ? 'rejected' : 'nack', at: 40 };
}

interface PendingRow {
  msg: number;
  failures: number;
  state: number;
  dead_reason: string | null;
  off: number;
}

function pending(r: Replica, inboxKey: string): PendingRow[] {
  const inbox = r.catalog.inbox(inboxKey);
  assert.ok(inbox, `${inboxKey} exists`);
  return r.db.prepare('SELECT msg, failures, state, dead_reason, off FROM pending WHERE inbox = ? ORDER BY msg').all(inbox.id) as PendingRow[];
}

function count(r: Replica, table: string): number {
  return (r.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
}

test('a queue declared twice is created once; its row and record keep the options, the time in the entry and the offset', (t) => {
  const r = replica(t);
  const options = { ...DEFAULT_QUEUE_OPTIONS, max_deliveries: 3 };
  const [created, again] = r.apply(2, 5, declareQueue('q', options), declareQueue('q'));
  assert.equal(created!.kind, 'inbox_created');
  assert.deepEqual(again, { kind: 'none' }, 'a second declaration changes nothing, whatever its options');
  const rows = r.db.prepare('SELECT p, inbox_key, kind, exchange, name, topic_id, options, created_at, off FROM inboxes').all();
  assert.deepEqual(rows, [{ p: 2, inbox_key: 'q:ex/q', kind: 'queue', exchange: 'ex', name: 'q', topic_id: null, options: JSON.stringify(options), created_at: 10, off: 5 }]);
  const record = r.catalog.inbox('q:ex/q');
  assert.ok(record);
  assert.deepEqual({ partition: record.partition, options: record.options, createdAt: record.createdAt }, { partition: 2, options, createdAt: 10 });
});

test('a queue publish is pending in its queue once, even applied twice; to a missing queue it changes nothing', (t) => {
  const r = replica(t);
  r.apply(0, 0, declareQueue('q'));
  const entry = publish('queue', 'q', 'm1');
  const inboxId = r.catalog.inbox('q:ex/q')!.id;
  assert.deepEqual(r.apply(0, 1, entry), [{ kind: 'published', offset: 1, inboxes: [inboxId], message: entry.message }]);
  assert.deepEqual(r.apply(0, 1, entry), [{ kind: 'published', offset: 1, inboxes: [], message: entry.message }], 'applied again: not pending twice');
  assert.deepEqual(pending(r, 'q:ex/q'), [{ msg: 1, failures: 0, state: 0, dead_reason: null, off: 1 }]);
  assert.deepEqual(r.apply(0, 2, publish('queue', 'missing', 'm2')), [{ kind: 'none' }]);
  assert.equal(count(r, 'pending'), 1);
});

test('a topic is declared at its offset; a publish is retained, and pending in every subscription that exists when it is applied', (t) => {
  const r = replica(t);
  r.apply(0, 1, declareTopic('t'), publish('topic', 't', 'before'), subscribe('t', 'a', 'latest'), subscribe('t', 'b', 'latest'));
  const [effect] = r.apply(0, 5, publish('topic', 't', 'after', { publishedAt: 33 }));
  const a = r.catalog.inbox('s:ex/t/a')!;
  const b = r.catalog.inbox('s:ex/t/b')!;
  assert.equal(effect!.kind, 'published');
  assert.deepEqual(effect!.kind === 'published' && [...effect.inboxes].sort(), [a.id, b.id].sort());
  assert.deepEqual(pending(r, 's:ex/t/a').map((row) => row.msg), [5], 'a subscription from latest does not get what came before it');
  assert.deepEqual(pending(r, 's:ex/t/b').map((row) => row.msg), [5]);
  const topicId = r.catalog.topic('ex', 't')!.id;
  assert.deepEqual(r.db.prepare('SELECT topic, msg, ts FROM topic_messages ORDER BY msg').all(), [
    { topic: topicId, msg: 2, ts: 30 },
    { topic: topicId, msg: 5, ts: 33 },
  ]);
  assert.equal(r.catalog.topic('ex', 't')!.subscriptions.size, 2);
  assert.deepEqual(r.db.prepare('SELECT id, p, exchange, name, options, created_at, off FROM topics').all(), [
    { id: topicId, p: 0, exchange: 'ex', name: 't', options: JSON.stringify({ retention_ms: 60_000 }), created_at: 10, off: 1 },
  ]);
});

test('a subscription from earliest gets the messages published within the retention before it was created', (t) => {
  const r = replica(t);
  r.apply(0, 0, declareTopic('t', 1_000), publish('topic', 't', 'too-old', { publishedAt: 3_499 }), publish('topic', 't', 'kept', { publishedAt: 3_500 }));
  const [created] = r.apply(0, 3, subscribe('t', 'early', 'earliest', 4_500), subscribe('t', 'late', 'latest', 4_500));
  assert.equal(created!.kind, 'inbox_created');
  assert.deepEqual(pending(r, 's:ex/t/early'), [{ msg: 2, failures: 0, state: 0, dead_reason: null, off: 3 }], 'copied by the subscription entry, at its offset');
  assert.deepEqual(pending(r, 's:ex/t/late'), []);
});

test('a subscription to a missing topic, or one that exists, changes nothing', (t) => {
  const r = replica(t);
  assert.deepEqual(r.apply(0, 0, subscribe('nowhere', 's', 'latest')), [{ kind: 'none' }]);
  r.apply(0, 1, declareTopic('t'), subscribe('t', 's', 'latest'));
  assert.deepEqual(r.apply(0, 3, subscribe('t', 's', 'earliest')), [{ kind: 'none' }]);
  assert.equal(count(r, 'inboxes'), 1);
});

test('settle: an ack deletes the row; a retry counts a failure and records the settling offset; what is not pending is gone', (t) => {
  const r = replica(t);
  r.apply(0, 0, declareQueue('q'), publish('queue', 'q', 'a'), publish('queue', 'q', 'b'));
  const inboxId = r.catalog.inbox('q:ex/q')!.id;
  const [acked, retried, unknown] = r.apply(0, 3, settle('q:ex/q', [1], 'ack'), settle('q:ex/q', [2], 'retry'), settle('q:ex/q', [1, 99], 'retry'));
  assert.deepEqual(acked, { kind: 'settled', inbox: inboxId, results: [{ offset: 1, state: 'gone', failures: 0, changed: true }] });
  assert.deepEqual(retried, { kind: 'settled', inbox: inboxId, results: [{ offset: 2, state: 'ready', failures: 1, changed: true }] });
  assert.deepEqual(unknown, {
    kind: 'settled',
    inbox: inboxId,
    results: [
      { offset: 1, state: 'gone', failures: 0, changed: false },
      { offset: 99, state: 'gone', failures: 0, changed: false },
    ],
  });
  assert.deepEqual(pending(r, 'q:ex/q'), [{ msg: 2, failures: 1, state: 0, dead_reason: null, off: 4 }]);
  assert.deepEqual(r.apply(0, 6, settle('q:ex/nowhere', [2], 'ack')), [{ kind: 'none' }]);
});

test('a dead outcome keeps the message as a dead letter with its reason; settling it again changes nothing', (t) => {
  const r = replica(t);
  r.apply(0, 0, declareQueue('q'), publish('queue', 'q', 'a'));
  const inboxId = r.catalog.inbox('q:ex/q')!.id;
  r.apply(0, 2, settle('q:ex/q', [1], 'dead'));
  assert.deepEqual(pending(r, 'q:ex/q'), [{ msg: 1, failures: 1, state: 1, dead_reason: 'rejected', off: 2 }]);
  assert.deepEqual(r.apply(0, 3, settle('q:ex/q', [1], 'ack')), [{ kind: 'settled', inbox: inboxId, results: [{ offset: 1, state: 'dead', failures: 1, changed: false }] }]);
  assert.deepEqual(pending(r, 'q:ex/q'), [{ msg: 1, failures: 1, state: 1, dead_reason: 'rejected', off: 2 }], 'an ack does not take a dead letter away');
});

test('deleting a queue drops it with its pending rows; deleting what does not exist changes nothing', (t) => {
  const r = replica(t);
  r.apply(0, 0, declareQueue('q'), publish('queue', 'q', 'a'), declareQueue('other'), publish('queue', 'other', 'b'));
  const inbox = r.catalog.inbox('q:ex/q')!;
  assert.deepEqual(r.apply(0, 4, { type: 'queue.delete', exchange: 'ex', queue: 'q' }), [{ kind: 'inbox_deleted', inbox }]);
  assert.equal(r.catalog.inbox('q:ex/q'), undefined);
  assert.deepEqual(r.db.prepare('SELECT inbox_key FROM inboxes').all(), [{ inbox_key: 'q:ex/other' }]);
  assert.deepEqual(r.db.prepare('SELECT msg FROM pending').all(), [{ msg: 3 }], "the other queue's message stays");
  assert.deepEqual(r.apply(0, 5, { type: 'queue.delete', exchange: 'ex', queue: 'q' }), [{ kind: 'none' }]);
  assert.deepEqual(r.apply(0, 6, { type: 'subscription.delete', exchange: 'ex', topic: 't', subscription: 's' }), [{ kind: 'none' }]);
  assert.deepEqual(r.apply(0, 7, { type: 'topic.delete', exchange: 'ex', topic: 't' }), [{ kind: 'none' }]);
});

test('deleting a topic drops its subscriptions, their pending rows and its retained messages', (t) => {
  const r = replica(t);
  r.apply(0, 0, declareTopic('t'), subscribe('t', 'a', 'latest'), subscribe('t', 'b', 'latest'), publish('topic', 't', 'm'));
  const subscriptions = [r.catalog.inbox('s:ex/t/a')!, r.catalog.inbox('s:ex/t/b')!];
  const [effect] = r.apply(0, 4, { type: 'topic.delete', exchange: 'ex', topic: 't' });
  assert.equal(effect!.kind, 'purged');
  assert.deepEqual(effect!.kind === 'purged' && effect.inboxes.map((i) => i.key).sort(), subscriptions.map((i) => i.key).sort());
  assert.equal(r.catalog.topic('ex', 't'), undefined);
  assert.equal(r.catalog.inbox('s:ex/t/a'), undefined);
  for (const table of ['topics', 'inboxes', 'pending', 'topic_messages']) assert.equal(count(r, table), 0, `${table} is empty`);
});

test('deleting one subscription leaves the topic and its other subscriptions', (t) => {
  const r = replica(t);
  r.apply(0, 0, declareTopic('t'), subscribe('t', 'a', 'latest'), subscribe('t', 'b', 'latest'), publish('topic', 't', 'm'));
  const a = r.catalog.inbox('s:ex/t/a')!;
  assert.deepEqual(r.apply(0, 4, { type: 'subscription.delete', exchange: 'ex', topic: 't', subscription: 'a' }), [{ kind: 'inbox_deleted', inbox: a }]);
  assert.deepEqual([...r.catalog.topic('ex', 't')!.subscriptions], [r.catalog.inbox('s:ex/t/b')!.id]);
  assert.deepEqual(pending(r, 's:ex/t/b').map((row) => row.msg), [3]);
  const [next] = r.apply(0, 5, publish('topic', 't', 'later'));
  assert.deepEqual(next!.kind === 'published' && next.inboxes, [r.catalog.inbox('s:ex/t/b')!.id], 'a deleted subscription gets nothing more');
});

test("an exchange purge drops that exchange's queues, topics and subscriptions in its partition only", (t) => {
  const r = replica(t);
  r.apply(0, 0, declareQueue('q'), declareTopic('t'), subscribe('t', 's', 'latest'), publish('queue', 'q', 'm'), declareQueue('q', DEFAULT_QUEUE_OPTIONS, 'other'));
  r.apply(1, 0, declareQueue('elsewhere'));
  const [effect] = r.apply(0, 5, { type: 'exchange.purge', exchange: 'ex' });
  assert.equal(effect!.kind, 'purged');
  assert.deepEqual(effect!.kind === 'purged' && effect.inboxes.map((i) => i.key).sort(), ['q:ex/q', 's:ex/t/s']);
  assert.deepEqual(r.db.prepare('SELECT p, inbox_key FROM inboxes ORDER BY inbox_key').all(), [
    { p: 1, inbox_key: 'q:ex/elsewhere' },
    { p: 0, inbox_key: 'q:other/q' },
  ]);
  assert.equal(count(r, 'topics'), 0);
  assert.equal(count(r, 'pending'), 0);
});

test('a producer id is recorded for dedup under its queue or topic, with the id and time of the message it names', (t) => {
  const r = replica(t);
  r.apply(0, 0, declareQueue('q'), declareTopic('q'));
  r.apply(0, 2, publish('queue', 'q', 'first', { producerId: 'p1', publishedAt: 100 }), publish('topic', 'q', 'topic-one', { producerId: 'p1', publishedAt: 101 }), publish('queue', 'q', 'no-producer-id'));
  const dedup = () => r.db.prepare('SELECT target, producer_id, msg_id, ts, off FROM dedup ORDER BY target').all();
  assert.deepEqual(dedup(), [
    { target: 'q:ex/q', producer_id: 'p1', msg_id: 'first', ts: 100, off: 2 },
    { target: 't:ex/q', producer_id: 'p1', msg_id: 'topic-one', ts: 101, off: 3 },
  ]);
  // Past the dedup window the same producer id is a new message: the record follows it.
  r.apply(0, 5, publish('queue', 'q', 'second', { producerId: 'p1', publishedAt: 900 }));
  assert.deepEqual(dedup()[0], { target: 'q:ex/q', producer_id: 'p1', msg_id: 'second', ts: 900, off: 5 });
});

test('an epoch start changes no state', (t) => {
  const r = replica(t);
  assert.deepEqual(r.apply(0, 0, { type: 'epoch.start', nodeId: 'n1' }), [{ kind: 'none' }]);
  for (const table of ['topics', 'inboxes', 'pending', 'topic_messages', 'dedup']) assert.equal(count(r, table), 0);
});
