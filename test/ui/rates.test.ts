import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateTracker } from '../../src/ui/rates';

test('a rate is the change between two polls per second; the first poll has none', () => {
  const rates = new RateTracker();
  assert.equal(rates.sample('q:depth', 10, 1_000), undefined);
  assert.equal(rates.sample('q:depth', 40, 4_000), 10);
  assert.equal(rates.rate('q:depth'), 10);
  assert.equal(rates.sample('q:depth', 10, 5_000), -30, 'a level may fall (a purge, consumers)');
});

test('a counter that goes down was reset: no rate for that interval, the next one counts from there', () => {
  const rates = new RateTracker();
  rates.sample('published', 500, 0, { counter: true });
  assert.equal(rates.sample('published', 20, 2_000, { counter: true }), undefined);
  assert.equal(rates.rate('published'), undefined);
  assert.equal(rates.sample('published', 40, 4_000, { counter: true }), 10);
});

test('two samples at the same instant give no rate; forget drops keys by prefix', () => {
  const rates = new RateTracker();
  rates.sample('a:x', 1, 100);
  assert.equal(rates.sample('a:x', 5, 100), undefined);
  rates.sample('a:x', 7, 1_100);
  rates.sample('b:x', 1, 100);
  rates.sample('b:x', 2, 1_100);
  rates.forget('a:');
  assert.equal(rates.rate('a:x'), undefined);
  assert.equal(rates.rate('b:x'), 1);
  assert.equal(rates.sample('a:x', 9, 2_000), undefined, 'forgotten: starts over');
});
