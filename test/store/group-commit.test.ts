/**
 * Group commit (DESIGN §3) over a real SQLite file in a temp dir: the writes of one event-loop
 * turn in one transaction, `immediate` for a write someone waits on, durable writes answered
 * after a sync and derived ones at commit, the fsync policies, rollback, and close.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { FsyncPolicy } from '../../src/config/settings';
import { MomError } from '../../src/core/errors';
import { silentLogger } from '../../src/runtime/logger';
import { GroupCommit } from '../../src/store/group-commit';
import { openNodeDatabase } from '../../src/store/schema';
import { StorageHealth } from '../../src/store/storage-health';
import { WalFile } from '../../src/store/wal-file';

interface Fixture {
  writes: GroupCommit;
  health: StorageHealth;
  /** Inserts a row into the test table (call inside a work function). */
  insert(value: string): number;
  /** Every value in the test table, in insertion order. */
  values(): string[];
  /** Makes the next write that needs a new page fail with SQLITE_FULL, as a full disk does. */
  fillDisk(): void;
}

function open(t: TestContext, policy: FsyncPolicy): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'mom-group-commit-'));
  const path = join(dir, 'test.db');
  const { db } = openNodeDatabase(path);
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  const wal = new WalFile(`${path}-wal`);
  // No probe comes back on its own during a test: the interval is longer than any of them.
  const health = new StorageHealth({ dataDir: dir, probe: async () => {}, logger: silentLogger, probeIntervalMs: 600_000 });
  const writes = new GroupCommit({ db, policy, wal, dataDir: dir, health, onSyncFailure: (error) => assert.fail(`unexpected sync failure: ${error.message}`) });
  t.after(async () => {
    await writes.close();
    health.close();
    wal.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  const select = db.prepare('SELECT v FROM t ORDER BY id').pluck();
  return {
    writes,
    health,
    insert: (value) => Number(insert.run(value).lastInsertRowid),
    values: () => select.all() as string[],
    fillDisk: () => {
      const pages = db.pragma('page_count', { simple: true }) as number;
      db.pragma(`max_page_count = ${pages}`);
    },
  };
}

test('the writes of one turn run together at its end, in order, as one group; the next turn is another', async (t) => {
  const f = open(t, 'batch');
  const first = f.writes.submit(() => f.insert('a'));
  const second = f.writes.submit(() => f.insert('b'));
  assert.deepEqual(f.values(), [], 'nothing runs before the turn ends');
  assert.deepEqual(await Promise.all([first, second]), [1, 2], 'each caller gets what its work returned');
  assert.equal(f.writes.groups, 1);
  assert.equal(f.writes.writes, 2);
  await f.writes.submit(() => f.insert('c'));
  assert.equal(f.writes.groups, 2);
  assert.deepEqual(f.values(), ['a', 'b', 'c']);
});

test('immediate commits at once, together with what the turn queued before it', async (t) => {
  const f = open(t, 'batch');
  const queued = f.writes.submit(() => f.insert('queued'));
  const now = f.writes.submit(() => f.insert('now'), { immediate: true });
  assert.deepEqual(f.values(), ['queued', 'now'], 'committed before submit returned');
  assert.equal(f.writes.groups, 1);
  await Promise.all([queued, now]);
});

test('an immediate write submitted from inside a group goes to the next group instead of nesting', async (t) => {
  const f = open(t, 'batch');
  let inner: Promise<number> | undefined;
  const seenInside = await f.writes.submit(() => {
    f.insert('outer');
    inner = f.writes.submit(() => f.insert('inner'), { immediate: true });
    return f.values();
  });
  assert.deepEqual(seenInside, ['outer']);
  await inner;
  assert.deepEqual(f.values(), ['outer', 'inner']);
  assert.equal(f.writes.groups, 2);
});

test('a durable write is answered after a sync; a derived one (durable: false) at its commit, before any sync', async (t) => {
  const f = open(t, 'batch');
  const derived = f.writes.submit(() => f.insert('derived'), { durable: false });
  const durable = f.writes.submit(() => f.insert('log'));
  await derived;
  assert.equal(f.writes.syncs, 0, 'the derived write did not wait for the sync');
  await durable;
  assert.equal(f.writes.syncs, 1, 'one sync covered the group');
});

test('fsync=batch: a throwing work rolls back its whole group and rejects every caller in it', async (t) => {
  const f = open(t, 'batch');
  const results = await Promise.allSettled([
    f.writes.submit(() => f.insert('a')),
    f.writes.submit(() => {
      f.insert('b');
      throw new Error('boom');
    }),
  ]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  for (const result of results) {
    const reason = (result as PromiseRejectedResult).reason as MomError;
    assert.equal(reason.code, 'internal');
    assert.match(reason.message, /boom/);
  }
  assert.deepEqual(f.values(), []);
  assert.equal(f.writes.groups, 0);
  await f.writes.submit(() => f.insert('after'));
  assert.deepEqual(f.values(), ['after'], 'the next group works');
});

test('fsync=always: each write is its own transaction, still answered after a sync', async (t) => {
  const f = open(t, 'always');
  const results = await Promise.allSettled([
    f.writes.submit(() => f.insert('a')),
    f.writes.submit(() => {
      f.insert('b');
      throw new MomError('stale_epoch', 'refused');
    }),
    f.writes.submit(() => f.insert('c')),
  ]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.equal(((results[1] as PromiseRejectedResult).reason as MomError).code, 'stale_epoch', 'a MomError keeps its code');
  assert.deepEqual(f.values(), ['a', 'c']);
  assert.equal(f.writes.groups, 2);
  assert.ok(f.writes.syncs >= 1);
});

test('fsync=never: answered at commit, nothing is ever synced', async (t) => {
  const f = open(t, 'never');
  await Promise.all([f.writes.submit(() => f.insert('a')), f.writes.submit(() => f.insert('b'))]);
  await f.writes.whenDurable();
  assert.equal(f.writes.groups, 1);
  assert.equal(f.writes.syncs, 0);
});

test('a rollback runs the undo steps of the failed transaction, newest first, and only those', async (t) => {
  const f = open(t, 'batch');
  const undone: string[] = [];
  await f.writes.submit(() => {
    f.insert('kept');
    f.writes.onRollback(() => undone.push('of a committed group'));
  });
  f.writes.onRollback(() => undone.push('outside a transaction'));
  const results = await Promise.allSettled([
    f.writes.submit(() => {
      f.insert('a');
      f.writes.onRollback(() => undone.push('a'));
    }),
    f.writes.submit(() => {
      f.writes.onRollback(() => undone.push('b1'));
      f.writes.onRollback(() => undone.push('b2'));
      throw new Error('boom');
    }),
  ]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  assert.deepEqual(undone, ['b2', 'b1', 'a']);
  assert.deepEqual(f.values(), ['kept']);
});

test('close commits what is queued and waits for its sync; later writes are refused with unavailable; close again is a no-op', async (t) => {
  const f = open(t, 'batch');
  let answered = false;
  const queued = f.writes.submit(() => f.insert('last')).then(() => (answered = true));
  await f.writes.close();
  assert.equal(answered, true, 'the queued write was answered before close resolved');
  assert.deepEqual(f.values(), ['last']);
  assert.equal(f.writes.syncs, 1);
  await queued;
  let ran = false;
  await assert.rejects(
    f.writes.submit(() => (ran = true)),
    (error: MomError) => error.code === 'unavailable',
  );
  assert.equal(ran, false);
  await f.writes.close();
});

test('a write the disk refuses fails with insufficient_storage; then writes are refused without running, probes still run', async (t) => {
  const f = open(t, 'batch');
  await f.writes.submit(() => f.insert('before'));
  f.fillDisk();
  await assert.rejects(
    f.writes.submit(() => f.insert('x'.repeat(1_000_000))),
    (error: MomError) => error.code === 'insufficient_storage',
  );
  assert.equal(f.health.state, 'failed');
  assert.deepEqual(f.values(), ['before'], 'rolled back');
  let ran = false;
  await assert.rejects(
    f.writes.submit(() => (ran = true)),
    (error: MomError) => error.code === 'insufficient_storage',
  );
  assert.equal(ran, false, 'refused at once, without touching the disk');
  assert.equal(await f.writes.submit(() => 'probed', { probe: true }), 'probed');
});
