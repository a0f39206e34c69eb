/**
 * DESIGN §8: a start that cannot use its data dir or a port ends within a second with a message
 * that names it and exit code 2, before writing anything (issue 11 §3: `--data /proc/nope`
 * spun in mkdir for minutes, ignoring SIGTERM, and a port in use failed only after a new admin
 * user had been written).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, it, type TestContext } from 'node:test';
import { MOMBROKER_BIN, tempDir } from '../helpers/broker';

interface Outcome {
  code: number | string;
  stderr: string;
  ms: number;
}

/** Runs the broker to its exit; kills it (and fails) if it has not ended within 15 s. */
function runToExit(t: TestContext, args: string[], cwd: string): Promise<Outcome> {
  const started = performance.now();
  const child = spawn(process.execPath, [MOMBROKER_BIN, ...args], {
    cwd,
    env: { ...process.env, MOM_ADMIN_PASSWORD: 'start-test-password', MOM_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? 'unknown', stderr, ms: performance.now() - started });
    });
  });
}

async function busyPort(t: TestContext): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as { port: number }).port;
}

/** Exit 2, a message naming `what`, quickly. The bound is generous for a busy 2-core machine. */
function assertRefused(t: TestContext, outcome: Outcome, what: string, label: string): void {
  t.diagnostic(`${label}: exit ${outcome.code} after ${Math.round(outcome.ms)} ms`);
  assert.equal(outcome.code, 2, `${label}: exit code 2 (stderr: ${outcome.stderr.slice(0, 500)})`);
  assert.ok(outcome.stderr.includes(what), `${label}: the message names ${what}: ${outcome.stderr.slice(0, 500)}`);
  assert.ok(outcome.ms < 5_000, `${label}: ended within 5 s (took ${Math.round(outcome.ms)} ms)`);
}

describe('a start that cannot use its data dir or port', { concurrency: 2 }, () => {
  it('an unusable data dir ends the start with exit 2, naming it', async (t) => {
    const dir = tempDir();
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    const cases: Array<[string, string]> = [
      ['/proc/nope', 'a directory /proc cannot hold'],
      ['/proc/nope/deeper', 'a path under /proc'],
      [file, 'a regular file'],
      [join(file, 'sub'), 'a path under a regular file'],
    ];
    for (const [data, label] of cases) {
      const outcome = await runToExit(t, ['--role', 'all', '--data', data, '--listen', '127.0.0.1:0'], dir);
      assertRefused(t, outcome, data, label);
      assert.ok(!outcome.stderr.includes('"msg":"listening"'), `${label}: never listened`);
    }
    assert.deepEqual(readdirSync(dir), ['a-file'], 'nothing was written next to them');
  });

  it('a port in use ends the start with exit 2, naming it, before the data dir is touched', async (t) => {
    const dir = tempDir();
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const port = await busyPort(t);

    // A data dir that does not exist yet is not even created.
    const fresh = join(dir, 'fresh');
    const first = await runToExit(t, ['--role', 'all', '--data', fresh, '--listen', `127.0.0.1:${port}`], dir);
    assertRefused(t, first, `127.0.0.1:${port}`, 'listen port in use, fresh data dir');
    assert.ok(!existsSync(fresh), 'the data dir was not created');

    // An empty one stays empty: no user database, no signing key, no admin password.
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const second = await runToExit(t, ['--role', 'all', '--data', empty, '--listen', `127.0.0.1:${port}`], dir);
    assertRefused(t, second, `127.0.0.1:${port}`, 'listen port in use, empty data dir');
    assert.deepEqual(readdirSync(empty), [], 'nothing was written into the data dir');

    // The auth role alone too.
    const auth = await runToExit(t, ['--role', 'auth', '--data', empty, '--listen', `127.0.0.1:${port}`], dir);
    assertRefused(t, auth, `127.0.0.1:${port}`, 'auth role, port in use');
    assert.deepEqual(readdirSync(empty), [], 'the auth role wrote nothing either');
  });

  it('a gRPC port in use ends a node start with exit 2 before it touches its data dir or ZooKeeper', async (t) => {
    const dir = tempDir();
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const grpcPort = await busyPort(t);
    const nothingThere = await busyPort(t); // a port that is no ZooKeeper and no auth role
    const data = join(dir, 'node-data');
    const outcome = await runToExit(
      t,
      ['--role', 'node,replicator', '--data', data, '--listen', '127.0.0.1:0', '--grpc', `127.0.0.1:${grpcPort}`, '--zookeeper', `127.0.0.1:${nothingThere}`, '--auth-url', `http://127.0.0.1:${nothingThere}`],
      dir,
    );
    assertRefused(t, outcome, `127.0.0.1:${grpcPort}`, 'grpc port in use');
    assert.ok(outcome.stderr.includes('grpc'), 'the message names the grpc setting');
    assert.ok(!existsSync(data), 'the data dir was not created');
  });
});
