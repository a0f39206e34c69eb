import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventStreamParser } from '../../src/client/event-stream-parser';

test('events end at a blank line; comments are skipped; data lines join', () => {
  const parser = new EventStreamParser();
  const events = parser.feed(': keepalive\n\nevent: message\nid: m1\ndata: {"a":1}\n\nevent: error\ndata: line1\ndata: line2\n\n');
  assert.deepEqual(events, [
    { event: 'message', id: 'm1', data: '{"a":1}' },
    { event: 'error', id: 'm1', data: 'line1\nline2' },
  ]);
});

test('an event split anywhere across chunks comes out once, whole, with CRLF or CR line ends', () => {
  const text = 'event: message\r\nid: x\r\ndata: {"payload":"é"}\r\n\r\nevent: message\rdata: 2\r\r';
  for (let cut = 0; cut <= text.length; cut++) {
    const parser = new EventStreamParser();
    const events = [...parser.feed(text.slice(0, cut)), ...parser.feed(text.slice(cut))];
    assert.deepEqual(
      events.map((e) => [e.event, e.data]),
      [
        ['message', '{"payload":"é"}'],
        ['message', '2'],
      ],
      `cut at ${cut}`,
    );
  }
});

test('an event without data is not dispatched; a field without a colon is a name with an empty value', () => {
  const parser = new EventStreamParser();
  assert.deepEqual(parser.feed('event: nothing\n\ndata\n\n'), [{ event: 'message', id: undefined, data: '' }]);
});
