import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StoredEntry } from '../../src/core/entries';
import { FetchResponse } from '../../src/gen/mom/replication/v1/replication';
import { toWireEntry } from '../../src/replication/entry-protobuf';
import { EncodedEntriesCache, encodeEntries, serializeFetchAnswer } from '../../src/replication/fetch-answer';

function stored(offset: number): StoredEntry {
  return {
    offset,
    epoch: 3,
    entry: {
      type: 'publish',
      target: 'queue',
      exchange: 'ex',
      name: 'q',
      message: { id: `m-${offset}`, producerId: undefined, payload: `{"n":${offset},"text":"héllo"}`, headers: offset % 2 === 0 ? '{"k":"v"}' : undefined, publishedAt: 1_700_000_000_000 + offset },
    },
  };
}

const head = { leaderEpoch: 3, highWatermark: 41, logStart: 0, diverging: undefined, compactBelow: 17 };

test('an answer with pre-encoded entries decodes to the FetchResponse it stands for', () => {
  const entries = [stored(40), stored(41), stored(42)];
  const bytes = serializeFetchAnswer({ head, entries: encodeEntries(5, entries) });
  const expected: FetchResponse = { ...head, entries: entries.map((entry) => toWireEntry(5, entry)) };
  assert.deepEqual(FetchResponse.decode(bytes), expected);
  // The same fields in another order: the same size as the generated encoder's output.
  assert.equal(bytes.length, FetchResponse.encode(expected).finish().length);
});

test('an answer without entries, or with a divergence, keeps every field', () => {
  const diverging = { epoch: 2, endOffset: 30 };
  const decoded = FetchResponse.decode(serializeFetchAnswer({ head: { ...head, diverging }, entries: encodeEntries(5, []) }));
  assert.deepEqual(decoded, { ...head, diverging, entries: [] });
});

test('the cache encodes the entries of a round once, and never reuses bytes for other entry objects', () => {
  const cache = new EncodedEntriesCache();
  const log = {};
  const tail = [stored(10), stored(11), stored(12)];
  const first = cache.get(log, 0, tail.slice(0, 2));
  assert.equal(cache.get(log, 0, tail.slice(0, 2)), first, 'the second follower of the round gets the same bytes');
  // The same offsets read again from the store are new objects: compaction may have changed the range since.
  const fromStore = cache.get(log, 0, [stored(10), stored(11)]);
  assert.notEqual(fromStore, first);
  assert.deepEqual(fromStore, first);
  const longer = cache.get(log, 0, tail);
  assert.deepEqual(longer, encodeEntries(0, tail));
  assert.notEqual(cache.get({}, 0, tail), longer, 'another leader log (a new epoch) never reuses bytes of this one');
  assert.equal(cache.get(log, 0, []).length, 0);
});
