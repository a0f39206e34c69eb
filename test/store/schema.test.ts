/** The node database's file settings (src/store/schema.ts). */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { MomError } from '../../src/core/errors';
import { openNodeDatabase } from '../../src/store/schema';
import { tempDir } from '../helpers/broker';

test('a new database gives space back incrementally; one made before is rewritten once to do so, keeping its rows', () => {
  const dir = tempDir('mom-schema-');
  const fresh = openNodeDatabase(join(dir, 'new', 'broker.db'));
  assert.equal(fresh.converted, false);
  assert.equal(fresh.db.pragma('auto_vacuum', { simple: true }), 2, 'INCREMENTAL');
  fresh.db.close();

  // A file as an older mombroker left it: no auto_vacuum, rows in it.
  const oldPath = join(dir, 'old.db');
  const old = new Database(oldPath);
  old.exec('CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES (\'still here\');');
  old.close();
  const reopened = openNodeDatabase(oldPath);
  assert.equal(reopened.converted, true);
  assert.equal(reopened.db.pragma('auto_vacuum', { simple: true }), 2);
  assert.equal((reopened.db.prepare('SELECT v FROM kept').get() as { v: string }).v, 'still here');
  reopened.db.close();
  const again = openNodeDatabase(oldPath);
  assert.equal(again.converted, false, 'only once');
  again.db.close();
});

/** A node database with some rows, closed, then pages 2–5 overwritten with random bytes. */
function corruptDatabaseAt(path: string): void {
  const made = openNodeDatabase(path);
  made.db.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO log (k, epoch, type, data) SELECT i, 1, 'publish', hex(randomblob(200)) FROM n");
  made.db.close();
  const fd = openSync(path, 'r+');
  for (let page = 2; page <= 5; page++) writeSync(fd, randomBytes(4096), 0, 4096, (page - 1) * 4096);
  closeSync(fd);
}

test('a corrupt database (quick_check) is moved aside and replaced by an empty one when a cluster node can rebuild it', () => {
  const dir = tempDir('mom-schema-');
  const path = join(dir, 'node', 'broker.db');
  corruptDatabaseAt(path);
  const opened = openNodeDatabase(path, 'set-aside');
  try {
    assert.ok(opened.setAside, 'it says the file was set aside');
    assert.match(opened.setAside.movedTo, /broker\.db\.corrupt-/);
    assert.ok(existsSync(opened.setAside.movedTo), 'the damaged file is kept for a post-mortem');
    assert.notEqual(opened.setAside.problem, '');
    assert.equal((opened.db.prepare('SELECT COUNT(*) AS n FROM log').get() as { n: number }).n, 0, 'a new, empty database');
    assert.equal(opened.db.pragma('quick_check', { simple: true }), 'ok');
  } finally {
    opened.db.close();
  }
  const again = openNodeDatabase(path, 'set-aside');
  assert.equal(again.setAside, undefined, 'a sound file is left as it is');
  again.db.close();
});

test('a corrupt database stops a node without replicas (config_invalid, naming the file) and is left in place', () => {
  const dir = tempDir('mom-schema-');
  const path = join(dir, 'node', 'broker.db');
  corruptDatabaseAt(path);
  assert.throws(
    () => openNodeDatabase(path, 'refuse'),
    (error: unknown) => error instanceof MomError && error.code === 'config_invalid' && error.message.includes(path) && /corrupt/.test(error.message),
  );
  assert.ok(existsSync(path));
  assert.deepEqual(readdirSync(join(dir, 'node')).filter((name) => name.includes('corrupt')), []);
});

test('a file that is not a database at all counts as corrupt', () => {
  const dir = tempDir('mom-schema-');
  const path = join(dir, 'broker.db');
  writeFileSync(path, randomBytes(16_384));
  const opened = openNodeDatabase(path, 'set-aside');
  assert.ok(opened.setAside);
  assert.match(opened.setAside.problem, /not a database/);
  opened.db.close();
});
