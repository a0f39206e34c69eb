/**
 * Producer-id deduplication (DESIGN §2) over a NodeStore in a temp dir: ids being committed
 * are claimed in memory, stored ones count within the window, and both per queue or topic.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_QUEUE_OPTIONS, targetKey } from '../../../../src/core/entries';
import { ProducerIds } from '../../../../src/roles/node/engine/producer-ids';
import { appendAndApply, openTempStore } from '../../../helpers/node-store';

const Q = targetKey('queue', 'ex', 'q');

test('a claimed producer id is found until released, on its own target only', (t) => {
  const ids = new ProducerIds(openTempStore(t), 60_000);
  const now = Date.now();
  assert.equal(ids.find(Q, 'p', now), undefined);
  const claim = ids.claim(Q, 'p');
  assert.equal(ids.find(Q, 'p', now), 'p', 'the message id is the producer id');
  assert.equal(ids.find(targetKey('queue', 'ex', 'other'), 'p', now), undefined);
  assert.equal(ids.find(targetKey('topic', 'ex', 'q'), 'p', now), undefined, 'a topic of the same name is another target');
  ids.release([claim]);
  assert.equal(ids.find(Q, 'p', now), undefined);
});

test('a stored producer id is found within the window, measured from its publish time, and not after', async (t) => {
  const store = openTempStore(t);
  const windowMs = 1_000;
  const publishedAt = 50_000;
  await appendAndApply(store, 0, 1, [
    { type: 'queue.declare', exchange: 'ex', queue: 'q', options: DEFAULT_QUEUE_OPTIONS, at: 1 },
    { type: 'publish', target: 'queue', exchange: 'ex', name: 'q', message: { id: 'p', producerId: 'p', payload: '1', headers: undefined, publishedAt } },
  ]);
  const ids = new ProducerIds(store, windowMs);
  assert.equal(ids.find(Q, 'p', publishedAt + windowMs), 'p');
  assert.equal(ids.find(Q, 'p', publishedAt + windowMs + 1), undefined);
  assert.equal(ids.find(Q, 'other', publishedAt), undefined);
});
