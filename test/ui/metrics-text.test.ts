import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sumSeries } from '../../src/ui/metrics-text';

test('a counter is the sum of its series; other metrics and comments are not counted', () => {
  const text = [
    '# HELP mom_messages_published_total messages stored by publishes',
    '# TYPE mom_messages_published_total counter',
    'mom_messages_published_total{exchange="a",queue="q"} 5',
    'mom_messages_published_total{exchange="b",queue="r"} 7',
    'mom_messages_published_total_created 1700000000',
    'mom_messages_acked_total 3',
    '',
  ].join('\n');
  assert.equal(sumSeries(text, 'mom_messages_published_total'), 12);
  assert.equal(sumSeries(text, 'mom_messages_acked_total'), 3);
  assert.equal(sumSeries(text, 'mom_messages_delivered_total'), undefined, 'absent: not counted here');
  assert.equal(sumSeries('x NaN\n', 'x'), undefined);
});
