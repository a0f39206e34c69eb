/**
 * `--role all` over HTTPS (DESIGN §7, issue 11 §4): with `--tls-cert/--tls-key` the one port
 * serves HTTPS only and the broker announces an https:// URL; the SDK (`connect({ ca })`, its
 * stream consumer too) and the CLI (`--ca FILE`, `MOM_CA`) reach it when they trust the CA
 * that signed it, and a client that does not is refused with code `tls_error` saying what to
 * do. Bad TLS settings stop the start with exit code 2, naming the setting and the file,
 * before anything is written.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { connect, isMomClientError, type Connection } from '../../src/client';
import { MOMBROKER_BIN, REPO_ROOT, startBroker, tempDir, withDispatcher, type RunningBroker } from '../helpers/broker';
import { uniqueName } from '../helpers/http-api';
import { createCa, issueCertificate, trusting, type TestCa } from '../helpers/tls';

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The client CLI as a user runs it, with only the environment given (no MOM_* of the test runner). */
function runCli(args: string[], env: Record<string, string>, input = ''): Promise<CliResult> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('MOM_')) clean[key] = value;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MOMBROKER_BIN, ...args], { cwd: REPO_ROOT, env: { ...clean, ...env }, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

async function httpsBroker(t: TestContext): Promise<{ broker: RunningBroker; ca: TestCa }> {
  const ca = createCa(t);
  const { certFile, keyFile } = issueCertificate(ca, 'broker');
  const broker = await startBroker(t, { args: ['--tls-cert', certFile, '--tls-key', keyFile] });
  return { broker, ca };
}

async function open(t: TestContext, broker: RunningBroker, ca: TestCa): Promise<Connection> {
  const connection = await connect({ url: broker.url, user: 'admin', password: broker.adminPassword, ca: ca.pem });
  t.after(() => connection.close());
  return connection;
}

test('--role all serves HTTPS: the SDK (pull and stream) and the CLI with the CA', async (t) => {
  const { broker, ca } = await httpsBroker(t);
  assert.match(broker.url, /^https:\/\/127\.0\.0\.1:\d+$/, 'the listening line announces https://');

  const health = await fetch(`${broker.url}/health`, withDispatcher(trusting(t, ca)));
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { status: string }).status, 'ok');

  const connection = await open(t, broker, ca);
  const exchange = uniqueName('tls');
  await connection.declareExchange(exchange);
  const queue = connection.queue(exchange, 'orders');
  await queue.declare();
  await queue.publish({ n: 1 }, { id: 'm-1' });
  await queue.publish({ n: 2 }, { id: 'm-2' });
  const pulled = await queue.pull({ max: 1, waitMs: 1_000 });
  assert.deepEqual(pulled.map((m) => m.payload), [{ n: 1 }]);
  await pulled[0]!.ack();
  // The stream consumer has its own pool: it trusts the same CA.
  for await (const message of queue.consume({ prefetch: 10 })) {
    assert.deepEqual(message.payload, { n: 2 });
    await message.ack();
    break;
  }

  const env = { MOM_URL: broker.url, MOM_USER: 'admin', MOM_PASSWORD: broker.adminPassword };
  const published = await runCli(['publish', exchange, 'orders', '{"n":3}', '--ca', ca.certFile], env);
  assert.equal(published.code, 0, published.stderr);
  const consumed = await runCli(['consume', exchange, 'orders', '--max', '1'], { ...env, MOM_CA: ca.certFile });
  assert.equal(consumed.code, 0, consumed.stderr);
  assert.deepEqual(JSON.parse(consumed.stdout.trim()).payload, { n: 3 });
});

test('a client that does not trust the certificate is refused with tls_error', async (t) => {
  const { broker, ca } = await httpsBroker(t);
  const stranger = createCa(t, 'a stranger CA');
  for (const [what, options] of [
    ['no CA (the system CAs)', {}],
    ['another CA', { ca: stranger.pem }],
  ] as const) {
    const started = Date.now();
    await assert.rejects(connect({ url: broker.url, user: 'admin', password: broker.adminPassword, ...options }), (error: unknown) => {
      assert.ok(isMomClientError(error), `${what}: a MomClientError, got ${String(error)}`);
      assert.equal(error.code, 'tls_error', what);
      assert.equal(error.retryable, false, `${what}: a retry meets the same certificate`);
      return true;
    });
    // Not retried until the retry deadline (10 s): it fails at once.
    assert.ok(Date.now() - started < 5_000, `${what}: failed without retrying`);
  }

  const env = { MOM_URL: broker.url, MOM_USER: 'admin', MOM_PASSWORD: broker.adminPassword };
  const refused = await runCli(['declare', 'exchange', 'x'], env);
  assert.equal(refused.code, 1, 'a server it cannot trust is a failure of the connection (exit 1)');
  assert.match(refused.stderr, /\(tls_error\)$/m);
  assert.match(refused.stderr, /--ca FILE/, 'it says what to do');
  const missing = await runCli(['declare', 'exchange', 'x', '--ca', join(ca.dir, 'missing.pem')], env);
  assert.equal(missing.code, 2, 'a CA file it cannot read is a usage error');
  assert.match(missing.stderr, /--ca: cannot read .*missing\.pem: ENOENT/);
  const notPem = await runCli(['declare', 'exchange', 'x'], { ...env, MOM_CA: ca.keyFile });
  assert.equal(notPem.code, 2);
  assert.match(notPem.stderr, /MOM_CA: .* holds no PEM certificate/);
});

test('bad TLS settings stop the start with exit code 2, naming the setting and the file, writing nothing', (t) => {
  const ca = createCa(t);
  const good = issueCertificate(ca, 'broker');
  const other = issueCertificate(ca, 'other');
  const cases: Array<[string[], RegExp]> = [
    [['--tls-cert', good.certFile], /tls-key: --tls-cert needs --tls-key too/],
    [['--tls-cert', join(ca.dir, 'nope.pem'), '--tls-key', good.keyFile], /tls-cert: cannot read ".*nope\.pem": no such file \(ENOENT\)/],
    [['--tls-cert', good.keyFile, '--tls-key', good.keyFile], /tls-cert: ".*broker\.key" holds no PEM certificate/],
    [['--tls-cert', good.certFile, '--tls-key', other.keyFile], /tls-key: the key in ".*other\.key" does not belong to the certificate in ".*broker\.pem"/],
    [['--tls-ca', good.keyFile], /tls-ca: ".*broker\.key" holds no PEM certificate/],
    [['--grpc-tls-cert', good.certFile, '--grpc-tls-key', good.keyFile], /grpc-tls-cert: mutual TLS between nodes needs .* missing --grpc-tls-ca/],
    [['--tls-cert', good.certFile, '--tls-key', good.keyFile, '--advertise-url', 'http://127.0.0.1:1'], /advertise-url: this process serves HTTPS/],
  ];
  for (const [args, message] of cases) {
    const dataDir = join(tempDir(), 'data');
    t.after(() => rmSync(join(dataDir, '..'), { recursive: true, force: true }));
    const result = spawnSync(process.execPath, [MOMBROKER_BIN, '--role', 'all', '--data', dataDir, '--listen', '127.0.0.1:0', ...args], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(result.status, 2, `${args.join(' ')}: exit 2, got ${result.status}: ${result.stderr}`);
    assert.match(result.stderr, message, args.join(' '));
    assert.match(result.stderr, /\(config_invalid\)/);
    assert.deepEqual(readdirSync(join(dataDir, '..')), [], `${args.join(' ')}: nothing written`);
  }
});
