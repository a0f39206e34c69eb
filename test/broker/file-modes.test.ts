/**
 * DESIGN §7: every file and directory the broker creates is 0600/0700, whatever the umask, and
 * also when the data dir already exists (issue 11 §3: `node/` was 0755 and `broker.db`, `-wal`
 * and `-shm` 0644 there, so messages were world-readable). An older data dir with open modes
 * is made private again at the next start.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MOMBROKER_BIN, REPO_ROOT, login, startBroker, tempDir } from '../helpers/broker';
import { Api, uniqueName } from '../helpers/http-api';

function mode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8);
}

/** Every entry under `root` (not `root` itself), with its mode. */
function walk(root: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const name of readdirSync(root)) {
    const path = join(root, name);
    const stat = lstatSync(path);
    out.push([path.slice(root.length + 1), (stat.mode & 0o777).toString(8)]);
    if (stat.isDirectory()) out.push(...walk(path).map(([p, m]): [string, string] => [`${name}/${p}`, m]));
  }
  return out;
}

function assertPrivate(root: string, label: string): void {
  const entries = walk(root);
  assert.ok(entries.length > 0, `${label}: the data dir has files`);
  for (const [path, m] of entries) {
    const expected = statSync(join(root, path)).isDirectory() ? '700' : '600';
    assert.equal(m, expected, `${label}: ${path} is ${m}, expected ${expected}`);
  }
}

/** Writes through the node so that the database has its -wal and -shm files. */
async function useIt(url: string, password: string): Promise<void> {
  const api = new Api(url, await login(url, 'admin', password));
  const ex = uniqueName('modes');
  await api.declareExchange(ex);
  await api.declareQueue(ex, 'q');
  await api.publish(`/v1/exchanges/${ex}/queues/q`, [{ payload: 'secret message' }]);
}

function runUnderUmask(umask: string, args: string[], input: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', `umask ${umask} && exec "$0" "$@"`, process.execPath, MOMBROKER_BIN, ...args], { cwd: REPO_ROOT, stdio: ['pipe', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
    child.stdin.end(input);
  });
}

describe('file modes', () => {
  it('an existing data dir under umask 000: everything created is 0700/0600; old open modes are tightened', async (t) => {
    const dataDir = tempDir();
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    chmodSync(dataDir, 0o755); // the operator's directory, made with the usual umask
    // No MOM_ADMIN_PASSWORD: the initial password goes to a file.
    const broker = await startBroker(t, { dataDir, umask: '000', env: { MOM_ADMIN_PASSWORD: '' } });
    const password = readFileSync(join(dataDir, 'initial-admin-password'), 'utf8').trim();
    await useIt(broker.url, password);
    for (const file of ['node', 'node/broker.db', 'node/broker.db-wal', 'node/broker.db-shm', 'auth', 'auth/users.db', 'auth/signing-key.json', 'coordinator.json', 'initial-admin-password']) {
      assert.ok(existsSync(join(dataDir, file)), `${file} exists`);
    }
    assertPrivate(dataDir, 'first start');
    assert.equal(mode(dataDir), '755', 'the operator\'s own data dir keeps its mode');

    // An older version left everything open: the next start closes it again.
    await broker.stop('SIGTERM');
    for (const [path] of walk(dataDir)) {
      const full = join(dataDir, path);
      chmodSync(full, statSync(full).isDirectory() ? 0o755 : 0o644);
    }
    const again = await broker.restart({ umask: '000', env: { MOM_ADMIN_PASSWORD: '' } });
    await useIt(again.url, password);
    assertPrivate(dataDir, 'restart over open modes');
  });

  it('a data dir the broker creates is 0700, parents included', async (t) => {
    const root = tempDir();
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const dataDir = join(root, 'made', 'by', 'broker');
    const broker = await startBroker(t, { dataDir, cwd: root, umask: '000' });
    await useIt(broker.url, broker.adminPassword);
    assert.equal(mode(join(root, 'made')), '700');
    assert.equal(mode(join(root, 'made', 'by')), '700');
    assert.equal(mode(dataDir), '700');
    assertPrivate(dataDir, 'fresh data dir');
  });

  it('mombroker users add under umask 000 makes a private user database', async (t) => {
    const root = tempDir();
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const dataDir = join(root, 'users-only');
    assert.equal(await runUnderUmask('000', ['users', 'add', 'alice', '--password-stdin', '--data', dataDir], 'alice-password-1\n'), 0);
    assert.equal(mode(dataDir), '700');
    assertPrivate(dataDir, 'users add');
    // An existing auth dir of an older version is tightened by the next users command.
    chmodSync(join(dataDir, 'auth'), 0o755);
    chmodSync(join(dataDir, 'auth', 'users.db'), 0o644);
    assert.equal(await runUnderUmask('000', ['users', 'add', 'bob', '--password-stdin', '--data', dataDir], 'bob-password-12\n'), 0);
    assertPrivate(dataDir, 'users add over open modes');
  });
});
