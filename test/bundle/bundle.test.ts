/**
 * The single-file deploy (DESIGN §9): scripts/bundle.mjs writes mombroker.cjs and
 * better_sqlite3.node; those two files alone, copied into an empty directory, run the broker
 * (`--role all`), the CLI (`users list`), and the cluster roles against a real ZooKeeper.
 * Every process runs with its cwd in that directory and without NODE_PATH, so nothing can be
 * found in the repository's node_modules.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startZooKeeper } from '../helpers/zookeeper';
import { REPO_ROOT } from '../helpers/broker';
import { waitFor } from '../helpers/wait';
import { Api } from '../helpers/http-api';

const FILES = ['mombroker.cjs', 'better_sqlite3.node'];
const START_TIMEOUT_MS = 30_000;

/** Runs the bundle script into a temp dir, then copies only the two deploy files into an empty one. */
function bundleInto(t: TestContext): string {
  const work = mkdtempSync(join(tmpdir(), 'mom-bundle-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const out = join(work, 'out');
  const result = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'bundle.mjs'), '--outdir', out, '--quiet'], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(result.status, 0, `bundle script failed:\n${result.stdout}\n${result.stderr}`);
  assert.deepEqual(readdirSync(out).sort(), [...FILES].sort(), 'the bundle is exactly the two deploy files');
  const deploy = join(work, 'deploy');
  mkdirSync(deploy);
  for (const file of FILES) copyFileSync(join(out, file), join(deploy, file));
  return deploy;
}

/** The environment of a deployed process: no NODE_PATH, no MOM_* settings leaking in from the test runner. */
function deployEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'NODE_PATH' || key.startsWith('MOM_') || key === 'NODE_OPTIONS') continue;
    env[key] = value;
  }
  return { ...env, MOM_LOG_LEVEL: 'info', ...extra };
}

interface Deployed {
  url: string;
  child: ChildProcess;
  stderr(): string;
}

/** Starts `node mombroker.cjs ARGS` in `dir`; resolves the URL of its "listening" line. Killed by PID at the end. */
async function startDeployed(t: TestContext, dir: string, args: string[], env: Record<string, string> = {}): Promise<Deployed> {
  const child = spawn(process.execPath, ['mombroker.cjs', ...args], { cwd: dir, env: deployEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let exited: string | undefined;
  const exit = new Promise<void>((resolve) => child.once('exit', (code, signal) => ((exited = String(code ?? signal)), resolve())));
  t.after(async () => {
    if (exited === undefined && child.pid !== undefined) {
      process.kill(child.pid, 'SIGKILL');
      await exit;
    }
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening" line within ${START_TIMEOUT_MS} ms from ${args.join(' ')}:\n${stderr}`)), START_TIMEOUT_MS);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      const match = /"msg":"listening"[^\n]*"url":"(http:\/\/[^"]+)"/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    void exit.then(() => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited (${exited}) before listening:\n${stderr}`));
    });
  });
  return { url, child, stderr: () => stderr };
}

async function login(url: string, user: string, pass: string): Promise<string> {
  const response = await fetch(`${url}/auth`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, pass }) });
  const text = await response.text();
  assert.equal(response.status, 200, `login: ${text}`);
  return (JSON.parse(text) as { token: string }).token;
}

async function publishAndPull(api: Api, exchange: string, queue: string): Promise<void> {
  await api.declareExchange(exchange);
  await api.declareQueue(exchange, queue);
  const ids = await api.publish(`/v1/exchanges/${exchange}/queues/${queue}`, [{ payload: { hello: 'bundle' } }]);
  assert.equal(ids.length, 1);
  const messages = await api.pull(`/v1/exchanges/${exchange}/queues/${queue}`, { wait_ms: 1000 });
  assert.equal(messages.length, 1);
  assert.equal(messages[0]!.id, ids[0]);
  assert.deepEqual(messages[0]!.payload, { hello: 'bundle' });
  const acked = await api.ack(`/v1/exchanges/${exchange}/queues/${queue}`, ids);
  assert.equal(acked.acked, 1);
}

/** GET /ui from the bundle: the page's files travel inside mombroker.cjs (scripts/bundle.mjs). */
async function assertServesPage(url: string): Promise<void> {
  const index = await fetch(`${url}/ui`);
  const html = await index.text();
  assert.equal(index.status, 200, `GET /ui: ${html.slice(0, 300)}`);
  assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  const script = /<script defer src="(\/ui\/app-[A-Z0-9]+\.js)">/.exec(html);
  assert.ok(script, 'the index names its script');
  const js = await fetch(`${url}${script[1]}`);
  assert.equal(js.status, 200);
  assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.ok((await js.text()).length > 1000);
}

test('the bundle alone runs --role all (the web page included) and the users CLI', async (t) => {
  const dir = bundleInto(t);
  const data = join(dir, 'data');
  const password = `bundle-${randomBytes(9).toString('base64url')}`;
  const broker = await startDeployed(t, dir, ['--role', 'all', '--listen', '127.0.0.1:0', '--data', data], { MOM_ADMIN_PASSWORD: password });

  const health = await fetch(`${broker.url}/health`);
  assert.equal(health.status, 200);
  await health.arrayBuffer();

  const api = new Api(broker.url, await login(broker.url, 'admin', password));
  await publishAndPull(api, 'bundled', 'jobs');
  await assertServesPage(broker.url);

  // The CLI from the same file, while the broker runs (DESIGN §9: users commands work then).
  const users = spawnSync(process.execPath, ['mombroker.cjs', 'users', 'list', '--data', data], { cwd: dir, env: deployEnv({}), encoding: 'utf8' });
  assert.equal(users.status, 0, users.stderr);
  assert.match(users.stdout, /\badmin\b/);

  const version = spawnSync(process.execPath, ['mombroker.cjs', '--version'], { cwd: dir, env: deployEnv({}), encoding: 'utf8' });
  assert.equal(version.status, 0, version.stderr);
  assert.match(version.stdout, /^\d+\.\d+\.\d+/);
});

test('the bundle runs the cluster roles against ZooKeeper', async (t) => {
  const zk = await startZooKeeper(t);
  const dir = bundleInto(t);
  const password = `bundle-${randomBytes(9).toString('base64url')}`;
  const secret = randomBytes(18).toString('base64url');
  const cluster = ['--zookeeper', zk.connectString, '--zk-root', zk.root, '--partitions', '4', '--replication-factor', '1', '--min-insync-replicas', '1'];

  const auth = await startDeployed(t, dir, ['--role', 'auth', '--listen', '127.0.0.1:0', '--data', join(dir, 'auth')], { MOM_ADMIN_PASSWORD: password });
  const node = await startDeployed(t, dir, [
    '--role', 'node,replicator',
    '--node-id', 'node-1',
    '--data', join(dir, 'node-1'),
    '--listen', '127.0.0.1:0',
    '--grpc', '127.0.0.1:0',
    '--auth-url', auth.url,
    '--cluster-secret', secret,
    ...cluster,
  ]);
  const partitioner = await startDeployed(t, dir, ['--role', 'partitioner', '--listen', '127.0.0.1:0', '--data', join(dir, 'partitioner'), ...cluster]);
  const gateway = await startDeployed(t, dir, [
    '--role', 'gateway',
    '--listen', '127.0.0.1:0',
    '--data', join(dir, 'gateway'),
    '--auth-url', auth.url,
    '--partitioner-url', partitioner.url,
    ...cluster,
  ]);

  for (const process of [auth, node, partitioner, gateway]) {
    const health = await fetch(`${process.url}/health`);
    assert.equal(health.status, 200, `${process.url}/health`);
    await health.arrayBuffer();
  }

  // Every partition led by node-1, as the controller placed them.
  await waitFor(
    'a leader for every partition',
    async () => {
      const response = await fetch(`${partitioner.url}/partitions`);
      if (response.status !== 200) return false;
      const map = (await response.json()) as { partitions: Array<{ leader: string | null }> };
      return map.partitions.length === 4 && map.partitions.every((p) => p.leader === 'node-1');
    },
    { timeoutMs: 20_000, intervalMs: 100, retryErrors: true },
  );

  const api = new Api(gateway.url, await login(auth.url, 'admin', password));
  await waitFor('the gateway to route', async () => (await api.put('/v1/exchanges/bundled')).status < 300, { timeoutMs: 20_000, intervalMs: 200, retryErrors: true });
  await publishAndPull(api, 'bundled', 'cluster-jobs');
  await assertServesPage(gateway.url);
});
