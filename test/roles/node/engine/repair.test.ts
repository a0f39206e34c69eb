/**
 * The repair family on a leader (engine/repair.ts) over a real store and a commit log whose
 * applied effects arrive after its commit resolves: the count still comes from the effect of
 * the operation's own entry, and an operation whose leadership ends first fails with
 * `timeout` (recorded, outcome unknown: never resent) instead of waiting forever.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { DEFAULT_QUEUE_OPTIONS, type LogEntry } from '../../../../src/core/entries';
import type { AppliedListener, CommitLog } from '../../../../src/log/commit-log';
import { PartitionEngine } from '../../../../src/roles/node/engine/partition-engine';
import { silentLogger } from '../../../../src/runtime/logger';
import type { ApplyEffect } from '../../../../src/store/state-applier';
import { NodeStore } from '../../../../src/store/node-store';

/** Applies at commit, but tells the listener only when `release()` is called. */
class LateLog implements CommitLog {
  readonly partition = 0;
  readonly epoch = 1;
  private listener: AppliedListener = () => {};
  private held: ApplyEffect[][] = [];
  holding = false;

  constructor(private readonly store: NodeStore) {}

  async start(): Promise<void> {}
  onApplied(listener: AppliedListener): void {
    this.listener = listener;
  }
  async commit(entries: LogEntry[]): Promise<number> {
    const { first, effects } = await this.store.writes.submit(() => {
      const first = this.store.append(0, 1, entries);
      return { first, effects: this.store.applyAppended(0, first, entries) };
    });
    if (this.holding) this.held.push(effects);
    else this.listener(effects);
    return first;
  }
  release(): void {
    for (const effects of this.held.splice(0)) this.listener(effects);
  }
  notReady(): undefined {
    return undefined;
  }
  compactionFloor(): number {
    return 0;
  }
  async close(): Promise<void> {}
}

function setup(t: TestContext): { engine: PartitionEngine; log: LateLog } {
  const dir = mkdtempSync(join(tmpdir(), 'mom-repair-'));
  const store = NodeStore.open(dir, 'never');
  const log = new LateLog(store);
  const engine = new PartitionEngine(store, log, { dedupWindowMs: 60_000, logger: silentLogger, unreadBudget: { limit: 1 << 20, perInbox: 100, used: 0 }, streamKeepaliveMs: 10_000 });
  t.after(async () => {
    await engine.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { engine, log };
}

test('a repair answers the count of its own entry, even when the effect arrives after the commit', async (t) => {
  const { engine, log } = setup(t);
  await engine.declareQueue('ex', 'q', DEFAULT_QUEUE_OPTIONS);
  await engine.publish('queue', 'ex', 'q', [1, 2, 3].map((n) => ({ payload: String(n), headers: undefined, producerId: undefined })), 'all');
  log.holding = true;
  const purged = engine.purge('q:ex/q');
  let answered = false;
  void purged.then(() => (answered = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(answered, false, 'waits for its effect');
  log.release();
  assert.equal(await purged, 3);
  log.holding = false;
  assert.equal(await engine.purge('q:ex/q'), 0);
});

test('a repair whose leadership ends before its effect arrives fails with timeout', async (t) => {
  const { engine, log } = setup(t);
  await engine.declareQueue('ex', 'q', DEFAULT_QUEUE_OPTIONS);
  log.holding = true;
  const redriven = engine.redriveDeadLetters('q:ex/q', null);
  await new Promise((resolve) => setImmediate(resolve));
  await engine.close();
  await assert.rejects(redriven, { code: 'timeout' });
});
