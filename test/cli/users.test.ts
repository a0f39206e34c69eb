import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test, type TestContext } from 'node:test';
import { HttpServer } from '../../src/http/server';
import { startAuthRole } from '../../src/roles/auth/auth-role';
import { silentLogger } from '../../src/runtime/logger';

// build/test/cli → repository root
const ROOT = resolve(__dirname, '..', '..', '..');
const BIN = join(ROOT, 'bin', 'mombroker');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const env = { ...process.env, ...options.env };
  if (!options.env || !('MOM_DATA' in options.env)) delete env.MOM_DATA;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'mom-cli-users-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A running auth role on `dataDir`, as a broker would run it, to prove the CLI works beside it. */
async function startBrokerAuth(t: TestContext, dataDir: string): Promise<string> {
  const role = await startAuthRole({ dataDir, tokenTtlSeconds: 600, logger: silentLogger, env: {} });
  const server = new HttpServer({ host: '127.0.0.1', port: 0, logger: silentLogger }).mount(role.router);
  await server.start();
  t.after(async () => {
    await server.close();
    await role.close();
  });
  return server.url();
}

async function login(url: string, user: string, pass: string): Promise<number> {
  const response = await fetch(`${url}/auth`, { method: 'POST', body: JSON.stringify({ user, pass }) });
  await response.arrayBuffer();
  return response.status;
}

test('users add/grant/list/passwd/revoke/remove change a running broker at once', async (t) => {
  const data = tempDir(t);
  const url = await startBrokerAuth(t, data);
  // The broker's first start wrote the admin password and the signing key, both private.
  assert.equal(statSync(join(data, 'initial-admin-password')).mode & 0o777, 0o600);
  assert.equal(statSync(join(data, 'auth', 'signing-key.json')).mode & 0o777, 0o600);

  const added = await runCli(['users', 'add', 'alice', '--password-stdin', '--data', data], { input: 'alice-password\n' });
  assert.equal(added.code, 0, added.stderr);
  assert.equal(added.stdout.trim(), 'added user alice');
  assert.equal(await login(url, 'alice', 'alice-password'), 200);

  const granted = await runCli(['users', 'grant', 'alice', '--exchange', 'logs.*', '--allow', 'publish,consume', '--data', data]);
  assert.equal(granted.code, 0, granted.stderr);
  assert.match(granted.stdout, /alice may publish, consume on exchanges matching logs\.\*/);

  const addedAdmin = await runCli(['users', 'add', 'ops', '--admin', '--password-stdin', '--data', data], { input: 'ops-password' });
  assert.equal(addedAdmin.code, 0, addedAdmin.stderr);

  const table = await runCli(['users', 'list', '--data', data]);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^ID\s+USER\s+ADMIN\s+GRANTS$/);
  assert.match(lines[1]!, /^1\s+admin\s+yes\s+-$/);
  assert.match(lines[2]!, /^2\s+alice\s+no\s+logs\.\*:publish,consume$/);
  assert.match(lines[3]!, /^3\s+ops\s+yes\s+-$/);
  assert.equal(lines.length, 4);

  const json = await runCli(['users', 'list', '--json', '--data', data]);
  const users = JSON.parse(json.stdout) as { username: string; admin: boolean; grants: unknown[] }[];
  assert.deepEqual(
    users.map(({ username, admin, grants }) => ({ username, admin, grants })),
    [
      { username: 'admin', admin: true, grants: [] },
      { username: 'alice', admin: false, grants: [{ exchange: 'logs.*', actions: ['publish', 'consume'] }] },
      { username: 'ops', admin: true, grants: [] },
    ],
  );

  const passwd = await runCli(['users', 'passwd', 'alice', '--password-stdin', '--data', data], { input: 'new-alice-password\r\nignored\n' });
  assert.equal(passwd.code, 0, passwd.stderr);
  assert.equal(await login(url, 'alice', 'alice-password'), 401);
  assert.equal(await login(url, 'alice', 'new-alice-password'), 200);

  const revoked = await runCli(['users', 'revoke', 'alice', '--exchange', 'logs.*', '--data', data]);
  assert.equal(revoked.code, 0, revoked.stderr);
  const afterRevoke = JSON.parse((await runCli(['users', 'list', '--json', '--data', data])).stdout) as { username: string; grants: unknown[] }[];
  assert.deepEqual(afterRevoke.find((user) => user.username === 'alice')?.grants, []);

  const removed = await runCli(['users', 'remove', 'alice', '--data', data]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal(removed.stdout.trim(), 'removed user alice');
  assert.equal(await login(url, 'alice', 'new-alice-password'), 401);
});

test('users commands fail with "mombroker: <message> (<code>)" and a non-zero exit', async (t) => {
  const data = tempDir(t);
  const first = await runCli(['users', 'add', 'alice', '--password-stdin', '--data', data], { input: 'alice-password\n' });
  assert.equal(first.code, 0, first.stderr);

  const cases: Array<{ args: string[]; input?: string; code: string; message: RegExp }> = [
    { args: ['users', 'add', 'bob', '--data', data], code: 'bad_request', message: /--password-stdin/ },
    { args: ['users', 'add', 'alice', '--password-stdin', '--data', data], input: 'other-password\n', code: 'conflict', message: /already exists/ },
    { args: ['users', 'add', 'bob', '--password-stdin', '--data', data], input: 'short\n', code: 'bad_request', message: /at least 8/ },
    { args: ['users', 'add', 'bob', '--password-stdin', '--data', data], input: '', code: 'bad_request', message: /no password/ },
    { args: ['users', 'add', '.bob', '--password-stdin', '--data', data], input: 'bob-password\n', code: 'invalid_name', message: /invalid/ },
    { args: ['users', 'remove', 'nobody', '--data', data], code: 'not_found', message: /nobody/ },
    { args: ['users', 'grant', 'alice', '--exchange', 'logs', '--allow', 'publish,delete', '--data', data], code: 'bad_request', message: /delete/ },
    { args: ['users', 'list', '--data', join(data, 'typo')], code: 'not_found', message: /no user database/ },
  ];
  for (const { args, input, code, message } of cases) {
    const result = await runCli(args, { input });
    assert.notEqual(result.code, 0, `${args.join(' ')} should fail`);
    assert.match(result.stderr, new RegExp(`^mombroker: .* \\(${code}\\)\\n$`), `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
  // Nothing of the failed commands reached the database.
  const list = JSON.parse((await runCli(['users', 'list', '--json', '--data', data])).stdout) as { username: string; grants: unknown[] }[];
  assert.deepEqual(list.map((user) => [user.username, user.grants]), [['alice', []]]);
});

test('--data defaults to MOM_DATA, and may also come before the subcommand', async (t) => {
  const data = tempDir(t);
  const added = await runCli(['users', 'add', 'carol', '--password-stdin'], { input: 'carol-password\n', env: { MOM_DATA: data } });
  assert.equal(added.code, 0, added.stderr);
  const listed = await runCli(['--data', data, 'users', 'list', '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual((JSON.parse(listed.stdout) as { username: string }[]).map((user) => user.username), ['carol']);
});
