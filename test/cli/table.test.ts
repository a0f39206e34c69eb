import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, formatTable } from '../../src/cli/table';

test('a table pads columns to their widest cell, numbers to the right, empty cells as -', () => {
  const text = formatTable(
    ['NAME', 'DEPTH', 'LEADER'],
    [
      ['orders', 12, 'node-1'],
      ['a', 0, null],
    ],
  );
  assert.equal(text, ['NAME    DEPTH  LEADER', 'orders     12  node-1', 'a           0  -', ''].join('\n'));
  assert.equal(formatTable(['NAME', 'DEPTH'], []), 'NAME  DEPTH\n', 'only the header when there are no rows');
  assert.equal(formatTable([{ header: 'P', align: 'right' }, 'X'], [['10', 'a'], ['2', 'b']]), ' P  X\n10  a\n 2  b\n');
});

test('durations for people', () => {
  assert.equal(formatDuration(999), '0s');
  assert.equal(formatDuration(12_000), '12s');
  assert.equal(formatDuration(245_000), '4m 05s');
  assert.equal(formatDuration(3 * 3600_000 + 12 * 60_000), '3h 12m');
  assert.equal(formatDuration(26 * 3600_000), '1d 2h');
});
