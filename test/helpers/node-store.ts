/**
 * A real NodeStore (SQLite, WAL, group commit) in a temp dir for unit tests of what runs over
 * it: closed and removed when the test ends. `appendAndApply` writes entries as a single
 * replica's leader does (src/log/local-commit-log.ts), without its compaction at apply time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { FsyncPolicy } from '../../src/config/settings';
import type { LogEntry } from '../../src/core/entries';
import { NodeStore } from '../../src/store/node-store';
import type { ApplyEffect } from '../../src/store/state-applier';

export function openTempStore(t: TestContext, fsync: FsyncPolicy = 'batch'): NodeStore {
  const dir = mkdtempSync(join(tmpdir(), 'mom-store-'));
  const store = NodeStore.open(dir, fsync);
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

/** Appends `entries` to the partition's log at its end and applies them, in one group; answers what applying changed. */
export function appendAndApply(store: NodeStore, partition: number, epoch: number, entries: LogEntry[]): Promise<ApplyEffect[]> {
  return store.writes.submit(() => store.applyAppended(partition, store.append(partition, epoch, entries), entries));
}
