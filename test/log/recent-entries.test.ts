import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LogEntry } from '../../src/core/entries';
import { RecentEntries } from '../../src/log/recent-entries';

const marker = (n: number): LogEntry => ({ type: 'epoch.start', nodeId: `n${n}` });

test('serves contiguous reads inside the ring and nothing outside it', () => {
  const tail = new RecentEntries(4);
  assert.equal(tail.read(0, 10), undefined, 'empty');
  tail.add(10, 1, [marker(10), marker(11), marker(12)]);
  assert.deepEqual(tail.read(11, 10)!.map((e) => e.offset), [11, 12]);
  assert.deepEqual(tail.read(13, 10), [], 'at the end: nothing new yet');
  assert.equal(tail.read(9, 10), undefined, 'before the ring: read the store');
  tail.add(13, 2, [marker(13), marker(14)]);
  assert.equal(tail.read(10, 10), undefined, 'offset 10 fell out of a ring of 4');
  assert.deepEqual(tail.read(11, 2)!.map((e) => [e.offset, e.epoch]), [[11, 1], [12, 1]]);
  assert.deepEqual(tail.read(13, 10)!.map((e) => e.offset), [13, 14]);
});

test('a gap restarts the ring rather than serving a hole', () => {
  const tail = new RecentEntries(8);
  tail.add(0, 1, [marker(0), marker(1)]);
  tail.add(5, 1, [marker(5)]);
  assert.equal(tail.read(1, 10), undefined);
  assert.deepEqual(tail.read(5, 10)!.map((e) => e.offset), [5]);
});

test('stored entries keep their own epochs, and a compaction gap restarts the ring', () => {
  const tail = new RecentEntries(8);
  tail.addStored([
    { offset: 3, epoch: 2, entry: marker(3) },
    { offset: 4, epoch: 3, entry: marker(4) },
  ]);
  assert.deepEqual(tail.read(3, 10)!.map((e) => [e.offset, e.epoch]), [[3, 2], [4, 3]]);
  tail.addStored([{ offset: 9, epoch: 3, entry: marker(9) }]);
  assert.equal(tail.read(4, 10), undefined, 'offsets before the gap are read from the store');
  assert.deepEqual(tail.read(9, 10)!.map((e) => e.offset), [9]);
});
