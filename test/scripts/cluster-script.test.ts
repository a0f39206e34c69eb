/**
 * scripts/cluster.sh (DESIGN §9): `up` starts ZooKeeper, auth, three nodes, the partitioner
 * and the gateway on loopback and returns once healthy; messages go through the gateway;
 * killing the leader of a queue's partition makes the gateway fail over to the new leader
 * (the window is measured) without losing the message stored before; `start` brings the node
 * back; `down` leaves no process of the pid files alive. `up --tls` makes a throwaway CA and
 * certificates with openssl, runs everything over HTTPS and mutual TLS, and prints the
 * `export MOM_URL=https://…` and `export MOM_CA=…` lines the CLI then works with.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { test, type TestContext } from 'node:test';
import { partitionOf } from '../../src/core/hash';
import { MOMBROKER_BIN, REPO_ROOT, login, withDispatcher } from '../helpers/broker';
import { waitFor } from '../helpers/wait';
import { Api } from '../helpers/http-api';
import { Agent } from 'undici';

const SCRIPT = join(REPO_ROOT, 'scripts', 'cluster.sh');
const NODES = 3;
const PARTITIONS = 4;
/** Bound on the publish retries after the kill; the gateway itself retries for 10 s per request. */
const FAILOVER_BOUND_MS = 60_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function clusterEnv(dir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // Settings of the test runner's environment must not reach the cluster's processes.
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('MOM_') && key !== 'NODE_OPTIONS') env[key] = value;
  return { ...env, MOM_CLUSTER_DIR: dir };
}

function run(dir: string, args: string[], timeoutMs = 150_000): Run {
  const result = spawnSync('bash', [SCRIPT, ...args], { cwd: REPO_ROOT, env: clusterEnv(dir), encoding: 'utf8', timeout: timeoutMs });
  return { code: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readPids(dir: string): Map<string, number> {
  const pids = new Map<string, number>();
  const pidDir = join(dir, 'pids');
  if (!existsSync(pidDir)) return pids;
  for (const file of readdirSync(pidDir)) {
    if (file.endsWith('.pid')) pids.set(file.slice(0, -4), Number(readFileSync(join(pidDir, file), 'utf8').trim()));
  }
  return pids;
}

function logsTail(dir: string): string {
  const logDir = join(dir, 'logs');
  if (!existsSync(logDir)) return '(no logs)';
  return readdirSync(logDir)
    .map((file) => `--- ${file}\n${readFileSync(join(logDir, file), 'utf8').split('\n').slice(-15).join('\n')}`)
    .join('\n');
}

function lineValue(output: string, key: string): string {
  const match = new RegExp(`^${key}: (\\S+)`, 'm').exec(output);
  assert.ok(match, `"${key}: …" in the output of up:\n${output}`);
  return match[1]!;
}

interface PartitionInfo {
  partition: number;
  leader: string | null;
  leader_epoch: number;
  isr: string[];
}

async function partitionMap(partitionerUrl: string): Promise<PartitionInfo[]> {
  const response = await fetch(`${partitionerUrl}/partitions`);
  assert.equal(response.status, 200);
  return ((await response.json()) as { partitions: PartitionInfo[] }).partitions;
}

/** A queue name whose partition is led by a node (any): the test kills that leader. */
function queueFor(exchange: string): { queue: string; partition: number } {
  const queue = `jobs-${Date.now().toString(36)}`;
  return { queue, partition: partitionOf(exchange, queue, PARTITIONS) };
}

test('--help documents every command and MOM_CLUSTER_DIR', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mom-cluster-help-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { code, stdout } = run(join(dir, 'cluster'), ['--help']);
  assert.equal(code, 0);
  for (const word of ['up', 'down', 'status', 'kill NAME', 'start NAME', '--nodes', '--partitions', '--tls', 'tls/', 'export MOM_CA', '--bundle', 'MOM_CLUSTER_DIR', 'MOM_BIN', 'MOM_ADMIN_PASSWORD', 'ZOOKEEPER', 'pids/', 'logs/', 'gateway: URL', 'partitioner: URL']) {
    assert.ok(stdout.includes(word), `--help mentions ${word}`);
  }
  assert.equal(existsSync(join(dir, 'cluster')), false, '--help creates nothing');
});

test('bad usage fails with a message', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mom-cluster-usage-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const unknown = run(dir, ['frobnicate']);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  const noCluster = run(dir, ['status']);
  assert.equal(noCluster.code, 3);
  assert.match(noCluster.stderr, /no cluster in/);
  const badNodes = run(dir, ['up', '--nodes', 'three']);
  assert.notEqual(badNodes.code, 0);
  assert.match(badNodes.stderr, /--nodes: expected a positive integer, got "three"/);
});

test('up, status, failover through the gateway after kill, start, down', { timeout: 300_000 }, async (t: TestContext) => {
  const dir = mkdtempSync(join(tmpdir(), 'mom-cluster-'));
  const seen = new Map<string, number>();
  t.after(() => {
    // Whatever happened, stop what up started; then make sure by pid.
    for (const [name, pid] of readPids(dir)) seen.set(name, pid);
    run(dir, ['down'], 60_000);
    for (const pid of seen.values()) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  // ---- up ----
  const started = performance.now();
  const up = run(dir, ['up', '--nodes', String(NODES), '--partitions', String(PARTITIONS)]);
  assert.equal(up.code, 0, `up failed:\n${up.stdout}\n${up.stderr}\n${logsTail(dir)}`);
  t.diagnostic(`up took ${Math.round(performance.now() - started)} ms`);
  const gatewayUrl = lineValue(up.stdout, 'gateway');
  const partitionerUrl = lineValue(up.stdout, 'partitioner');
  const authUrl = lineValue(up.stdout, 'auth');
  assert.match(up.stdout, /^logs: /m);
  assert.match(up.stdout, /^pids: /m);

  const pids = readPids(dir);
  for (const [name, pid] of pids) seen.set(name, pid);
  const expected = ['auth', 'partitioner', 'gateway', ...Array.from({ length: NODES }, (_, i) => `node-${i + 1}`)];
  if (!process.env.ZOOKEEPER) expected.push('zookeeper');
  assert.deepEqual([...pids.keys()].sort(), expected.sort());
  for (const [name, pid] of pids) assert.ok(isAlive(pid), `${name} (pid ${pid}) runs`);
  const passwordFile = join(dir, 'admin-password');
  assert.equal(statSync(passwordFile).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'cluster.env')).mode & 0o777, 0o600);
  const password = readFileSync(passwordFile, 'utf8').trim();

  // Healthy as promised: every partition has a leader already.
  const map = await partitionMap(partitionerUrl);
  assert.equal(map.length, PARTITIONS);
  for (const p of map) assert.ok(p.leader, `partition ${p.partition} has a leader`);

  // ---- status ----
  const status = run(dir, ['status']);
  assert.equal(status.code, 0, `${status.stdout}\n${status.stderr}`);
  for (const name of expected) assert.match(status.stdout, new RegExp(`^${name}\\s+\\S+\\s+${pids.get(name)}\\s+alive`, 'm'), `status lists ${name}:\n${status.stdout}`);
  for (const p of map) assert.match(status.stdout, new RegExp(`^${p.partition}\\s+${p.leader}\\s+${p.leader_epoch}\\s+\\S+`, 'm'));

  // ---- publish and pull through the gateway ----
  const api = new Api(gatewayUrl, await login(authUrl, 'admin', password));
  const exchange = 'orders';
  const { queue, partition } = queueFor(exchange);
  const path = `/v1/exchanges/${exchange}/queues/${queue}`;
  await waitFor('declaring the exchange through the gateway', async () => (await api.put(`/v1/exchanges/${exchange}`)).status < 300, { timeoutMs: 20_000, intervalMs: 200, retryErrors: true });
  await api.declareQueue(exchange, queue);
  const [firstId] = await api.publish(path, [{ payload: { n: 1 } }]);
  const stats = await api.get(path);
  assert.equal(stats.status, 200);
  assert.equal(stats.body.partition, partition, 'the partition is fnv1a32(exchange/queue) mod P');
  assert.equal(stats.body.depth, 1);

  // up's last line is ready to paste: the CLI then talks to the gateway as admin.
  const exportLine = up.stdout.trim().split('\n').at(-1)!;
  assert.equal(exportLine, `export MOM_URL=${gatewayUrl} MOM_USER=admin MOM_PASSWORD="$(cat ${passwordFile})"`);
  const viaExport = spawnSync('bash', ['-c', `${exportLine} && exec "$0" "$1" status ${exchange} ${queue} --json`, process.execPath, MOMBROKER_BIN], {
    env: clusterEnv(dir),
    encoding: 'utf8',
  });
  assert.equal(viaExport.status, 0, viaExport.stderr);
  const viaStatus = JSON.parse(viaExport.stdout) as { url: string; queue: { depth: number; leader: string } };
  assert.deepEqual([viaStatus.url, viaStatus.queue.depth, viaStatus.queue.leader], [gatewayUrl, 1, stats.body.leader], 'status names the leader to kill');

  // ---- kill the leader of that partition ----
  const before = (await partitionMap(partitionerUrl)).find((p) => p.partition === partition)!;
  const victim = before.leader!;
  assert.equal(stats.body.leader, victim);
  const killed = run(dir, ['kill', victim]);
  assert.equal(killed.code, 0, killed.stderr);
  const killedAt = performance.now();
  assert.equal(isAlive(pids.get(victim)!), false, `${victim} is dead after kill`);

  let attempts = 0;
  let secondId: string | undefined;
  let lastFailure = '';
  while (secondId === undefined) {
    attempts++;
    const response = await api.post(`${path}/messages`, { payload: { n: 2 } });
    if (response.status === 201) secondId = response.body.ids[0];
    else lastFailure = `${response.status} ${response.text}`;
    if (secondId === undefined) {
      assert.ok(performance.now() - killedAt < FAILOVER_BOUND_MS, `no publish succeeded within ${FAILOVER_BOUND_MS} ms of the kill (${attempts} attempts, last: ${lastFailure})\n${logsTail(dir)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const windowMs = Math.round(performance.now() - killedAt);
  t.diagnostic(`failover window: ${windowMs} ms from SIGKILL of ${victim} (leader of partition ${partition}) to the first acknowledged publish through the gateway, ${attempts} attempt(s)${lastFailure ? `; last failure: ${lastFailure}` : ''}`);

  const after = (await partitionMap(partitionerUrl)).find((p) => p.partition === partition)!;
  assert.notEqual(after.leader, victim, 'a new leader');
  assert.ok(after.leader_epoch > before.leader_epoch, 'the leader epoch was bumped');
  assert.ok(!after.isr.includes(victim), 'the dead node left the ISR');

  // The message acknowledged before the kill survived it.
  const messages = await api.pull(path, { max: 10, wait_ms: 1000 });
  assert.deepEqual(
    messages.map((m) => [m.id, m.payload]),
    [
      [firstId, { n: 1 }],
      [secondId, { n: 2 }],
    ],
  );
  await api.ack(path, [firstId!, secondId!]);

  // ---- start the node again ----
  const restarted = run(dir, ['start', victim]);
  assert.equal(restarted.code, 0, `${restarted.stdout}\n${restarted.stderr}`);
  const newPid = readPids(dir).get(victim)!;
  seen.set(`${victim}-restarted`, newPid);
  assert.notEqual(newPid, pids.get(victim));
  assert.ok(isAlive(newPid));
  const again = run(dir, ['status']);
  assert.match(again.stdout, new RegExp(`^${victim}\\s+\\S+\\s+${newPid}\\s+alive`, 'm'), again.stdout);
  // It catches up and rejoins the ISR of the partition it lost.
  await waitFor(
    `${victim} back in the ISR of partition ${partition}`,
    async () => (await partitionMap(partitionerUrl)).find((p) => p.partition === partition)!.isr.includes(victim),
    { timeoutMs: 30_000, intervalMs: 200, retryErrors: true },
  );
  const doubleStart = run(dir, ['start', victim]);
  assert.notEqual(doubleStart.code, 0);
  assert.match(doubleStart.stderr, /already runs/);

  // ---- down ----
  const allPids = [...readPids(dir).entries()];
  const down = run(dir, ['down']);
  assert.equal(down.code, 0, `${down.stdout}\n${down.stderr}`);
  for (const [name, pid] of allPids) assert.equal(isAlive(pid), false, `${name} (pid ${pid}) stopped by down`);
  assert.deepEqual(readdirSync(join(dir, 'pids')), [], 'down removes the pid files');
  const gone = await fetch(`${gatewayUrl}/health`).then(
    () => 'answered',
    () => 'refused',
  );
  assert.equal(gone, 'refused');
});

/** The CLI with exactly the environment a user gets from pasting the `export` lines of `up`. */
function runCli(dir: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MOMBROKER_BIN, ...args], { cwd: REPO_ROOT, env: { ...clusterEnv(dir), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('up --tls: a throwaway CA, HTTPS everywhere, mutual TLS, and the export lines for the CLI', { timeout: 300_000 }, async (t: TestContext) => {
  const dir = mkdtempSync(join(tmpdir(), 'mom-cluster-tls-'));
  t.after(() => {
    const pids = [...readPids(dir).values()];
    run(dir, ['down'], 60_000);
    for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const up = run(dir, ['up', '--tls', '--nodes', '3', '--partitions', String(PARTITIONS)]);
  assert.equal(up.code, 0, `up --tls failed:\n${up.stdout}\n${up.stderr}\n${logsTail(dir)}`);
  const gatewayUrl = lineValue(up.stdout, 'gateway');
  for (const key of ['gateway', 'partitioner', 'auth', 'node-1']) assert.match(lineValue(up.stdout, key), /^https:\/\/127\.0\.0\.1:\d+$/, `${key} serves HTTPS`);
  const exportLines = up.stdout.split('\n').filter((line) => line.startsWith('export '));
  const exported = Object.fromEntries(exportLines.flatMap((line) => [...line.matchAll(/(MOM_[A-Z]+)=("[^"]*"|\S+)/g)].map((m) => [m[1]!, m[2]!])));
  assert.equal(exported.MOM_URL, gatewayUrl, `an export MOM_URL line:\n${up.stdout}`);
  assert.equal(exported.MOM_CA, join(dir, 'tls', 'ca.pem'), `an export MOM_CA line:\n${up.stdout}`);
  // The CA's key and every process's key stay private.
  for (const name of ['ca', 'auth', 'gateway', 'partitioner', 'node-1']) {
    assert.equal(statSync(join(dir, 'tls', `${name}.key`)).mode & 0o777, 0o600, `${name}.key is 0600`);
    assert.ok(statSync(join(dir, 'tls', `${name}.pem`)).isFile());
  }
  for (const log of ['node-1', 'node-2', 'node-3']) {
    assert.match(readFileSync(join(dir, 'logs', `${log}.log`), 'utf8'), /"msg":"listening".*"url":"https:.*"grpc_tls":"mutual"/, `${log} replicates over mutual TLS`);
  }

  const agent = new Agent({ connect: { ca: readFileSync(exported.MOM_CA!) } });
  t.after(() => agent.close());
  assert.equal((await fetch(`${gatewayUrl}/health`, withDispatcher(agent))).status, 200, 'GET /health over HTTPS, trusting the CA');
  const untrusted = await fetch(`${gatewayUrl}/health`).then(
    () => 'answered',
    () => 'refused',
  );
  assert.equal(untrusted, 'refused', 'a client that does not trust the CA is refused');

  // The CLI as the output says to use it: publish (acks=all: replicated over mutual TLS) and consume.
  const env = { ...exported, MOM_USER: 'admin', MOM_PASSWORD: readFileSync(join(dir, 'admin-password'), 'utf8').trim() };
  for (const args of [['declare', 'exchange', 'shop'], ['declare', 'queue', 'shop', 'orders'], ['publish', 'shop', 'orders', '{"n":1}']]) {
    const result = await runCli(dir, args, env);
    assert.equal(result.code, 0, `mombroker ${args.join(' ')}: ${result.stderr}`);
  }
  const consumed = await runCli(dir, ['consume', 'shop', 'orders', '--max', '1'], env);
  assert.equal(consumed.code, 0, consumed.stderr);
  assert.deepEqual(JSON.parse(consumed.stdout.trim()).payload, { n: 1 });

  const status = run(dir, ['status']);
  assert.equal(status.code, 0, `${status.stdout}\n${status.stderr}`);
  assert.match(status.stdout, /^gateway\s+gateway\s+\d+\s+alive\s+https:\/\//m);
  assert.match(status.stdout, /^0\s+node-\d\s+\d+\s+node-\d,node-\d,node-\d$/m, `the map, read over HTTPS:\n${status.stdout}`);

  const again = run(dir, ['up', '--tls']);
  assert.notEqual(again.code, 0, 'up while it runs is refused');
  const down = run(dir, ['down']);
  assert.equal(down.code, 0, `${down.stdout}\n${down.stderr}`);
  assert.deepEqual(readdirSync(join(dir, 'pids')), [], 'down removes the pid files');
});
