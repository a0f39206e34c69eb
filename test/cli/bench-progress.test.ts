import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { ProgressDisplay, progressLine } from '../../src/cli/bench-progress';
import { waitFor } from '../helpers/wait';

test('the progress line shows the phase, a bar of its planned time and the counts so far', () => {
  assert.equal(
    progressLine({ phase: 'throughput', elapsedMs: 3_000, totalMs: 12_000, counts: { published: 51_200, consumed: 1_050_900 } }, 8),
    'throughput  [##------]  3.0/12.0 s  published 51,200  consumed 1,050,900',
  );
  assert.equal(progressLine({ phase: 'latency', elapsedMs: 20_000, totalMs: 15_000, counts: undefined }, 4), 'latency  [####]  15.0/15.0 s', 'never past the end');
});

test('the display redraws one line in place and erases it when the phase ends', async () => {
  const out = new PassThrough();
  let written = '';
  out.on('data', (chunk: Buffer) => (written += chunk.toString()));
  const display = new ProgressDisplay(out);
  const observe = display.start('throughput', 10_000);
  observe(() => ({ published: 7, consumed: 5 }));
  await waitFor('a redraw with the counts', () => written.includes('published 7  consumed 5'), { timeoutMs: 5_000, retryErrors: true });
  display.stop();
  display.stop();
  assert.ok(written.startsWith('\r\x1b[2Kthroughput  ['), JSON.stringify(written.slice(0, 40)));
  assert.ok(written.endsWith('\r\x1b[2K'), 'the line is erased at the end');
  assert.equal(written.includes('\n'), false, 'never a new line: the results own stdout');
});
