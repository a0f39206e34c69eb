import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fnv1a32, partitionOf } from '../../src/core/hash';

test('fnv1a32 matches the published FNV-1a 32-bit test vectors', () => {
  assert.equal(fnv1a32(''), 0x811c9dc5);
  assert.equal(fnv1a32('a'), 0xe40c292c);
  assert.equal(fnv1a32('foobar'), 0xbf9cf968);
});

test('partitionOf hashes exchange/name over UTF-8 and stays in range', () => {
  assert.equal(partitionOf('shop', 'orders', 16), fnv1a32('shop/orders') % 16);
  assert.equal(partitionOf('ä', 'ö', 7), fnv1a32('ä/ö') % 7);
  const seen = new Set<number>();
  for (let i = 0; i < 500; i++) seen.add(partitionOf('ex', `q${i}`, 16));
  assert.equal(seen.size, 16, '500 names spread over all 16 partitions');
});
