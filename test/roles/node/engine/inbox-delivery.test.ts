/**
 * InboxDelivery's unread list: once a read of the store past the cursor came back short,
 * messages published since are served from memory, in order, each once, within a budget.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InboxDelivery, type UnreadBudget } from '../../../../src/roles/node/engine/inbox-delivery';
import type { InboxRecord } from '../../../../src/store/catalog';
import type { PublishedMessage } from '../../../../src/core/entries';

const INBOX = { id: 1, key: 'q:ex/q', kind: 'queue' } as InboxRecord;

function message(id: string, payload = '"x"'): PublishedMessage {
  return { id, producerId: undefined, headers: undefined, publishedAt: 1, payload };
}

function budget(perInbox = 10, limit = 1_000_000): UnreadBudget {
  return { limit, perInbox, used: 0 };
}

test('unknown until a short read; then published messages come back in order, once', () => {
  const delivery = new InboxDelivery(INBOX, budget());
  assert.equal(delivery.knowsUnread, false);
  delivery.addUnread(5, message('ignored'));
  assert.equal(delivery.takeUnread(), undefined, 'nothing is kept while the store must be read');

  delivery.cursor = 7;
  delivery.knowNothingUnread();
  delivery.addUnread(6, message('already-read'));
  delivery.addUnread(7, message('also-read'));
  delivery.addUnread(8, message('m8'));
  delivery.addUnread(9, message('m9'));
  assert.deepEqual(delivery.takeUnread(), { offset: 8, failures: 0, msg_id: 'm8', headers: null, ts: 1, payload: '"x"' });
  assert.equal(delivery.takeUnread()?.msg_id, 'm9');
  assert.equal(delivery.takeUnread(), undefined);
  assert.equal(delivery.knowsUnread, true, 'an empty list still answers: nothing is pending past the cursor');
});

test('a list past its bound is dropped, and the budget is given back', () => {
  const shared = budget(3);
  const delivery = new InboxDelivery(INBOX, shared);
  delivery.knowNothingUnread();
  for (let offset = 1; offset <= 3; offset++) delivery.addUnread(offset, message(`m${offset}`));
  assert.ok(shared.used > 0);
  delivery.addUnread(4, message('m4'));
  assert.equal(delivery.knowsUnread, false, 'a consumer this far behind reads the store');
  assert.equal(shared.used, 0);
});

test('inboxes share the byte budget; take and close give it back', () => {
  const shared = budget(100, 1_000);
  const a = new InboxDelivery(INBOX, shared);
  const b = new InboxDelivery({ ...INBOX, id: 2, key: 'q:ex/b' }, shared);
  a.knowNothingUnread();
  b.knowNothingUnread();
  a.addUnread(1, message('a1', 'x'.repeat(600)));
  b.addUnread(1, message('b1', 'y'.repeat(600)));
  assert.equal(b.knowsUnread, false, 'the second list would pass the shared budget');
  assert.equal(a.knowsUnread, true);
  const used = shared.used;
  assert.ok(used > 600);
  assert.equal(a.takeUnread()?.msg_id, 'a1');
  assert.equal(shared.used, 0);
  a.addUnread(2, message('a2'));
  a.close();
  assert.equal(shared.used, 0);
  assert.equal(a.knowsUnread, false);
});
