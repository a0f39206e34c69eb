/**
 * scripts/install-systemd.sh (DESIGN §9): renders mombroker-ROLE.service into a temp
 * --unit-dir (render only: no user, no data dir, no systemctl) and refuses bad input with a
 * message that names it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { REPO_ROOT } from '../helpers/broker';

const SCRIPT = join(REPO_ROOT, 'scripts', 'install-systemd.sh');

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mom-systemd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync('bash', [SCRIPT, ...args], { cwd: REPO_ROOT, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function writeConfig(dir: string, values: Record<string, unknown>): string {
  const file = join(dir, 'mombroker.json');
  writeFileSync(file, JSON.stringify(values));
  return file;
}

/** The unit as key → values (a key may repeat). */
function parseUnit(text: string): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!match) continue;
    keys.set(match[1]!, [...(keys.get(match[1]!) ?? []), match[2]!]);
  }
  return keys;
}

test('--help explains the usage and the options', () => {
  const { code, stdout } = run(['--help']);
  assert.equal(code, 0);
  for (const word of ['ROLE', '--config', '--unit-dir', '--user', '--bin', '--no-enable', 'ReadWritePaths', 'systemctl']) {
    assert.ok(stdout.includes(word), `--help mentions ${word}`);
  }
});

test('renders a hardened unit for node,replicator into --unit-dir, touching nothing else', (t) => {
  const dir = tempDir(t);
  const unitDir = join(dir, 'units');
  const data = join(dir, 'var', 'mom-data');
  const config = writeConfig(dir, { roles: 'node,replicator', data, nodeId: 'node-7' });
  const bin = join(REPO_ROOT, 'bin', 'mombroker');

  const { code, stdout, stderr } = run(['node,replicator', '--config', config, '--unit-dir', unitDir, '--user', 'mom-svc', '--bin', bin, '--node', process.execPath, '--no-enable']);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /wrote .*mombroker-node-replicator\.service/);
  assert.deepEqual(readdirSync(unitDir), ['mombroker-node-replicator.service']);
  assert.equal(existsSync(data), false, 'render only: the data directory is not created');

  const text = readFileSync(join(unitDir, 'mombroker-node-replicator.service'), 'utf8');
  assert.match(text, /^\[Unit\]$/m);
  assert.match(text, /^\[Service\]$/m);
  assert.match(text, /^\[Install\]$/m);
  const unit = parseUnit(text);
  const one = (key: string) => {
    const values = unit.get(key);
    assert.ok(values && values.length === 1, `${key} appears once`);
    return values[0]!;
  };
  assert.equal(one('ExecStart'), `${process.execPath} ${bin} --role node,replicator --config ${config}`);
  assert.equal(one('User'), 'mom-svc');
  assert.equal(one('Group'), 'mom-svc');
  assert.equal(one('Restart'), 'on-failure');
  assert.equal(one('KillSignal'), 'SIGTERM');
  assert.equal(one('TimeoutStopSec'), '15');
  assert.match(one('LimitNOFILE'), /^\d{5,}$/);
  assert.equal(one('NoNewPrivileges'), 'true');
  assert.equal(one('ProtectSystem'), 'strict');
  assert.equal(one('ReadWritePaths'), data, 'the data dir from the config is the writable path');
  assert.equal(one('PrivateTmp'), 'true');
  assert.equal(one('WantedBy'), 'multi-user.target');

  // systemd's own checker, where there is one (it needs no running systemd).
  const verify = spawnSync('systemd-analyze', ['verify', join(unitDir, 'mombroker-node-replicator.service')], { encoding: 'utf8' });
  if (verify.error === undefined) {
    const complaints = `${verify.stdout}${verify.stderr}`
      .split('\n')
      .filter((line) => line.includes('mombroker-node-replicator.service') && !/User|Group|mom-svc/.test(line));
    assert.deepEqual(complaints, [], 'systemd-analyze verify has no complaint about the unit');
  }
});

test('role node installs node,replicator: the unit\'s --role overrides the config\'s roles, so a bare node would lack its replicator', (t) => {
  const dir = tempDir(t);
  const config = writeConfig(dir, { roles: ['node', 'replicator'], data: '/var/lib/mombroker' });
  const { code, stdout, stderr } = run(['node', '--config', config, '--unit-dir', dir]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /role node: installing node,replicator/);
  assert.deepEqual(readdirSync(dir).filter((name) => name.endsWith('.service')), ['mombroker-node-replicator.service']);
  const unit = parseUnit(readFileSync(join(dir, 'mombroker-node-replicator.service'), 'utf8'));
  assert.match(unit.get('ExecStart')![0]!, / --role node,replicator --config /);
});

test('a single role with the defaults: the bundle or bin/mombroker, user mombroker', (t) => {
  const dir = tempDir(t);
  const config = writeConfig(dir, { data: '/var/lib/mombroker-auth' });
  const { code, stderr } = run(['auth', '--config', config, '--unit-dir', dir]);
  assert.equal(code, 0, stderr);
  const unit = parseUnit(readFileSync(join(dir, 'mombroker-auth.service'), 'utf8'));
  assert.equal(unit.get('User')?.[0], 'mombroker');
  assert.equal(unit.get('ReadWritePaths')?.[0], '/var/lib/mombroker-auth');
  assert.match(unit.get('ExecStart')![0]!, /\/(dist\/mombroker\.cjs|bin\/mombroker) --role auth --config /);
});

test('bad input fails with a message that names it', (t) => {
  const dir = tempDir(t);
  const config = writeConfig(dir, { data: join(dir, 'data') });
  const cases: Array<[string[], RegExp]> = [
    [['broker', '--config', config, '--unit-dir', dir], /unknown role "broker"/],
    [['node,brokr', '--config', config, '--unit-dir', dir], /unknown role "brokr"/],
    [['replicator', '--config', config, '--unit-dir', dir], /replicator needs node/],
    [['all,gateway', '--config', config, '--unit-dir', dir], /all already runs every role/],
    [['--config', config, '--unit-dir', dir], /ROLE is required/],
    [['gateway', '--unit-dir', dir], /--config FILE is required/],
    [['gateway', '--config', join(dir, 'missing.json'), '--unit-dir', dir], /no such file/],
    [['gateway', '--config', config, '--unit-dir', dir, '--user', 'Bad User'], /--user/],
    [['gateway', '--config', config, '--unit-dir', dir, '--bin', join(dir, 'nope')], /--bin: no such file/],
    [['gateway', '--config', config, '--unit-dir', dir, '--frobnicate'], /unknown option --frobnicate/],
    [['gateway', '--config', writeConfig(tempDir(t), { data: 'relative/data' }), '--unit-dir', dir], /absolute directory/],
    [['gateway', '--config', writeConfig(tempDir(t), { listen: '127.0.0.1:7000' }), '--unit-dir', dir], /no "data" key/],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = run(args);
    assert.notEqual(code, 0, `${args.join(' ')} must fail`);
    assert.match(stderr, message, `${args.join(' ')}: ${stderr}`);
  }
  assert.deepEqual(readdirSync(dir).filter((name) => name.endsWith('.service')), [], 'no unit written on error');
});
