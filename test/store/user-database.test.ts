import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { MomError } from '../../src/core/errors';
import { hashPassword, UserDatabase, verifyHash } from '../../src/store/user-database';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mom-users-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function openDb(t: TestContext, dir = tempDir(t)): UserDatabase {
  const db = new UserDatabase(dir);
  t.after(() => db.close());
  return db;
}

function hasCode(code: string) {
  return (error: unknown) => error instanceof MomError && error.code === code;
}

test('addUser stores a user that verifyPassword accepts, and nothing else', async (t) => {
  const db = openDb(t);
  const added = await db.addUser('alice', 'correct horse', { admin: false });
  assert.equal(added.username, 'alice');
  const principal = await db.verifyPassword('alice', 'correct horse');
  assert.deepEqual(principal, { userId: added.id, username: 'alice', admin: false, grants: [] });
  assert.equal(await db.verifyPassword('alice', 'wrong horse'), undefined);
  assert.equal(await db.verifyPassword('bob', 'correct horse'), undefined);
});

test('passwords are stored as self-describing scrypt hashes with a random salt', async (t) => {
  const dir = tempDir(t);
  const db = openDb(t, dir);
  await db.addUser('alice', 'same password');
  await db.addUser('bob', 'same password');
  const raw = new Database(join(dir, 'auth', 'users.db'), { readonly: true });
  t.after(() => raw.close());
  const hashes = (raw.prepare('SELECT password_hash FROM users ORDER BY id').all() as { password_hash: string }[]).map((r) => r.password_hash);
  assert.equal(statSync(join(dir, 'auth', 'users.db')).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'auth', 'users.db-wal')).mode & 0o777, 0o600);
  for (const hash of hashes) assert.match(hash, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
  assert.notEqual(hashes[0], hashes[1]);
  assert.ok(!hashes[0]!.includes('same password'));
});

test('verifyHash rejects malformed stored hashes instead of throwing', async () => {
  const good = await hashPassword('a password');
  assert.equal(await verifyHash('a password', good), true);
  assert.equal(await verifyHash('a password', 'plain'), false);
  assert.equal(await verifyHash('a password', good.replace('scrypt$', 'bcrypt$')), false);
  assert.equal(await verifyHash('a password', good.replace('$16384$', '$99999999999$')), false);
});

test('addUser refuses duplicates, bad names and short passwords', async (t) => {
  const db = openDb(t);
  await db.addUser('alice', 'password1');
  await assert.rejects(db.addUser('alice', 'password2'), hasCode('conflict'));
  await assert.rejects(db.addUser('../etc', 'password1'), hasCode('invalid_name'));
  await assert.rejects(db.addUser('carol', 'short'), hasCode('bad_request'));
  assert.deepEqual(db.listUsers().map((u) => u.username), ['alice']);
});

test('grant merges actions per pattern; revoke removes one pattern; listUsers shows them', async (t) => {
  const db = openDb(t);
  await db.addUser('alice', 'password1');
  await db.addUser('root', 'password1', { admin: true });
  assert.deepEqual(db.grant('alice', 'logs.*', ['consume']), { exchange: 'logs.*', actions: ['consume'] });
  assert.deepEqual(db.grant('alice', 'logs.*', ['publish', 'consume']), { exchange: 'logs.*', actions: ['publish', 'consume'] });
  db.grant('alice', 'billing', ['configure']);
  assert.deepEqual(db.principal('alice')?.grants, [
    { exchange: 'billing', actions: ['configure'] },
    { exchange: 'logs.*', actions: ['publish', 'consume'] },
  ]);
  db.revoke('alice', 'billing');
  const list = db.listUsers();
  assert.deepEqual(
    list.map((u) => ({ username: u.username, admin: u.admin, grants: u.grants })),
    [
      { username: 'alice', admin: false, grants: [{ exchange: 'logs.*', actions: ['publish', 'consume'] }] },
      { username: 'root', admin: true, grants: [] },
    ],
  );
  assert.throws(() => db.revoke('alice', 'billing'), hasCode('not_found'));
  assert.throws(() => db.grant('alice', 'logs', ['delete']), hasCode('bad_request'));
  assert.throws(() => db.grant('alice', '.hidden', ['publish']), hasCode('invalid_name'));
  assert.throws(() => db.grant('nobody', 'logs', ['publish']), hasCode('not_found'));
  assert.deepEqual(db.grant('alice', '*', ['publish']), { exchange: '*', actions: ['publish'] });
});

test('removeUser drops the user and its grants; setPassword replaces the password', async (t) => {
  const db = openDb(t);
  await db.addUser('alice', 'password1');
  db.grant('alice', 'logs', ['publish']);
  await db.setPassword('alice', 'password2');
  assert.equal(await db.verifyPassword('alice', 'password1'), undefined);
  assert.equal((await db.verifyPassword('alice', 'password2'))?.username, 'alice');
  db.removeUser('alice');
  assert.equal(db.principal('alice'), undefined);
  assert.throws(() => db.removeUser('alice'), hasCode('not_found'));
  await assert.rejects(db.setPassword('alice', 'password3'), hasCode('not_found'));
  // Ids are never reused, so a token for the removed alice cannot pass as a new alice.
  const again = await db.addUser('alice', 'password1');
  assert.ok(again.id > 1);
  assert.deepEqual(db.principal('alice')?.grants, []);
});

test('addFirstUser adds only to an empty database', async (t) => {
  const db = openDb(t);
  assert.equal((await db.addFirstUser('admin', 'password1', { admin: true }))?.admin, true);
  assert.equal(await db.addFirstUser('other', 'password1'), undefined);
  assert.equal(db.countUsers(), 1);
});

test('a second connection sees changes at once (CLI next to a running broker)', async (t) => {
  const dir = tempDir(t);
  const broker = openDb(t, dir);
  const cli = openDb(t, dir);
  await cli.addUser('alice', 'password1');
  cli.grant('alice', 'logs', ['publish']);
  assert.deepEqual(broker.principal('alice')?.grants, [{ exchange: 'logs', actions: ['publish'] }]);
  cli.removeUser('alice');
  assert.equal(broker.principal('alice'), undefined);
});

test('opening without create fails on a missing database; close is idempotent and final', async (t) => {
  const dir = tempDir(t);
  assert.throws(() => new UserDatabase(join(dir, 'nowhere'), { create: false }), hasCode('not_found'));
  const db = new UserDatabase(dir);
  db.close();
  db.close();
  assert.throws(() => db.listUsers(), hasCode('unavailable'));
  const reopened = new UserDatabase(dir, { create: false });
  reopened.close();
});
