/** The node database's file settings (src/store/schema.ts). */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
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
