/**
 * Disk comes back (issue 11 §2b): a backlog makes the data dir grow; once it is consumed and
 * compacted, free pages go back to the file system (incremental vacuum) and the write-ahead
 * log is cut back, so a drained broker's data dir returns close to its size before.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startBroker } from '../helpers/broker';
import { adminApi, uniqueName } from '../helpers/http-api';
import { waitFor } from '../helpers/wait';

const MESSAGES = 20_000;
const BATCH = 500;
const MiB = 1024 * 1024;
/** What may stay: free pages kept for the next burst (4 MiB), the write-ahead log (cut back to nothing after a second idle), and a little. */
const SLACK_BYTES = 14 * MiB;

function sizeOf(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? sizeOf(path) : statSync(path).size;
  }
  return total;
}

test('a drained backlog gives its disk space back', { timeout: 180_000 }, async (t) => {
  const broker = await startBroker(t);
  const api = await adminApi(broker);
  const exchange = uniqueName('space');
  await api.declareExchange(exchange);
  await api.declareQueue(exchange, 'q');
  const path = `/v1/exchanges/${exchange}/queues/q`;
  const before = sizeOf(broker.dataDir);

  const payload = 'x'.repeat(1_000);
  for (let i = 0; i < MESSAGES; i += BATCH) await api.publish(path, Array.from({ length: BATCH }, () => ({ payload })));
  const full = sizeOf(broker.dataDir);
  const drained = await api.drain(path, { max: 1000 });
  assert.equal(drained.length, MESSAGES);
  await api.delete(path);

  const after = await waitFor(
    () => `the data dir to shrink back (before ${(before / MiB).toFixed(1)} MiB, with the backlog ${(full / MiB).toFixed(1)} MiB, now ${(sizeOf(broker.dataDir) / MiB).toFixed(1)} MiB)`,
    () => {
      const now = sizeOf(broker.dataDir);
      return now <= before + SLACK_BYTES ? now : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 500 },
  );
  console.log(`data dir: ${(before / MiB).toFixed(1)} MiB empty, ${(full / MiB).toFixed(1)} MiB with ${MESSAGES} messages of 1 KB (${Math.round((full - before) / MESSAGES)} bytes each), ${(after / MiB).toFixed(1)} MiB once drained`);
  assert.ok(full - before > MESSAGES * 1_000, 'the backlog did take space');
});
