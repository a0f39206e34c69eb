/**
 * `mombroker declare|publish|consume|status` as a user runs them: the real executable against
 * a running broker, configured by MOM_URL/MOM_USER/MOM_PASSWORD or a MOM-py config.json.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { MOMBROKER_BIN, startBroker, tempDir } from '../helpers/broker';
import { waitFor } from '../helpers/wait';

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface CliOptions {
  env?: Record<string, string>;
  cwd: string;
  input?: string;
}

/** The environment of the test process without any client setting leaking in. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['MOM_URL', 'MOM_USER', 'MOM_PASSWORD']) delete env[name];
  return { ...env, ...extra };
}

function spawnCli(args: string[], options: CliOptions): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [MOMBROKER_BIN, ...args], { cwd: options.cwd, env: cleanEnv(options.env), stdio: 'pipe' });
}

function runCli(args: string[], options: CliOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, options);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line !== '');
}

test('client commands against a running broker', async (t) => {
  const broker = await startBroker(t);
  /** Working directories of the commands: none has a config.json unless a test writes one. */
  const dir = (): string => {
    const path = tempDir('mom-cli-client-');
    t.after(() => rmSync(path, { recursive: true, force: true }));
    return path;
  };
  const home = dir();
  const env = { MOM_URL: broker.url, MOM_USER: 'admin', MOM_PASSWORD: broker.adminPassword };
  const cli = (args: string[], options: Partial<CliOptions> = {}) => runCli(args, { cwd: home, ...options, env: { ...env, ...options.env } });
  const exchange = `cli-${randomUUID().slice(0, 8)}`;

  await t.test('declare creates, then finds, and reports a conflict with exit code 1', async () => {
    assert.deepEqual(await cli(['declare', 'exchange', exchange]), { code: 0, stdout: `created exchange ${exchange}\n`, stderr: '' });
    assert.deepEqual(await cli(['declare', 'exchange', exchange]), { code: 0, stdout: `exchange ${exchange} already exists\n`, stderr: '' });
    assert.equal((await cli(['declare', 'queue', exchange, 'jobs', '--max-deliveries', '3'])).stdout, `created queue ${exchange}/jobs\n`);
    assert.equal((await cli(['declare', 'queue', exchange, 'jobs', '--max-deliveries', '3'])).stdout, `queue ${exchange}/jobs already exists\n`);
    const conflict = await cli(['declare', 'queue', exchange, 'jobs', '--max-deliveries', '4']);
    assert.equal(conflict.code, 1);
    assert.match(conflict.stderr, /^mombroker: .+ \(conflict\)\n$/);
    assert.equal((await cli(['declare', 'topic', exchange, 'news', '--retention-ms', '60000'])).stdout, `created topic ${exchange}/news\n`);
    assert.equal((await cli(['declare', 'subscription', exchange, 'news', 'audit', '--from', 'earliest'])).stdout, `created subscription ${exchange}/news/audit\n`);
  });

  await t.test('publish prints ids; consume prints the messages as JSON lines and acks them', async () => {
    const one = await cli(['publish', exchange, 'jobs', '{"task":"build"}', '--id', 'job-1', '--header', 'priority=high', '--header', 'team=a=b']);
    assert.deepEqual(one, { code: 0, stdout: 'job-1\n', stderr: '' });
    const many = await cli(['publish', exchange, 'jobs'], { input: '42\nnot json at all\n\n{"n":[1,2]}\n"quoted"\n' });
    assert.equal(many.code, 0, many.stderr);
    const ids = lines(many.stdout);
    assert.equal(ids.length, 4, 'one id per non-empty line');

    const consumed = await cli(['consume', exchange, 'jobs', '--max', '5', '--wait-ms', '2000']);
    assert.equal(consumed.code, 0, consumed.stderr);
    const messages = lines(consumed.stdout).map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(
      messages.map((m) => m.payload),
      [{ task: 'build' }, 42, 'not json at all', { n: [1, 2] }, 'quoted'],
    );
    assert.deepEqual(
      messages.map((m) => m.id),
      ['job-1', ...ids],
    );
    assert.deepEqual(messages[0]!.headers, { priority: 'high', team: 'a=b' });
    for (const message of messages) {
      assert.deepEqual(Object.keys(message), ['id', 'payload', 'headers', 'published_at', 'deliveries']);
      assert.equal(message.deliveries, 1);
    }

    const status = await cli(['status', exchange, 'jobs']);
    assert.equal(status.code, 0, status.stderr);
    const parsed = JSON.parse(status.stdout) as { url: string; health: { status: string }; queue: { depth: number; in_flight: number } };
    assert.equal(parsed.url, broker.url);
    assert.equal(parsed.health.status, 'ok');
    assert.equal(parsed.queue.depth, 0, 'everything consumed');
    assert.equal(parsed.queue.in_flight, 0, 'everything acked');
  });

  await t.test('consume --no-ack leaves the messages leased', async () => {
    await cli(['publish', exchange, 'jobs', 'unacked']);
    const consumed = await cli(['consume', exchange, 'jobs', '--max', '1', '--no-ack', '--lease-ms', '60000']);
    assert.equal((JSON.parse(consumed.stdout) as { payload: unknown }).payload, 'unacked');
    const status = JSON.parse((await cli(['status', exchange, 'jobs'])).stdout) as { queue: { in_flight: number } };
    assert.equal(status.queue.in_flight, 1);
  });

  await t.test('topics: publish --topic, consume --topic --subscription', async () => {
    const published = await cli(['publish', exchange, '--topic', 'news', '{"headline":"hi"}']);
    assert.equal(published.code, 0, published.stderr);
    const consumed = await cli(['consume', exchange, '--topic', 'news', '--subscription', 'audit', '--max', '1']);
    assert.equal(consumed.code, 0, consumed.stderr);
    const message = JSON.parse(consumed.stdout) as { id: string; payload: unknown };
    assert.equal(message.id, published.stdout.trim());
    assert.deepEqual(message.payload, { headline: 'hi' });
  });

  await t.test('a MOM-py config.json in the working directory is enough', async () => {
    const cwd = dir();
    const location = broker.url.replace(/^http:\/\//, ''); // MOM-py locations may lack the scheme
    writeFileSync(join(cwd, 'config.json'), JSON.stringify({ API_SERVER_LOCATION: location, USERNAME: 'admin', PASSWORD: broker.adminPassword }));
    const published = await runCli(['publish', exchange, 'jobs', '"from mompy"'], { cwd });
    assert.equal(published.code, 0, published.stderr);
    const elsewhere = dir();
    writeFileSync(join(elsewhere, 'client.json'), JSON.stringify({ MOM_SERVER_LOCATION: broker.url, USERNAME: 'admin', PASSWORD: broker.adminPassword }));
    const consumed = await runCli(['consume', exchange, 'jobs', '--max', '1', '--client-config', 'client.json'], { cwd: elsewhere });
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.equal((JSON.parse(consumed.stdout) as { payload: unknown }).payload, 'from mompy');
  });

  await t.test('consume without --max runs until SIGTERM, then exits 0', async () => {
    await cli(['declare', 'queue', exchange, 'stream']);
    const child = spawnCli(['consume', exchange, 'stream', '--wait-ms', '30000'], { cwd: home, env });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.stdin.end();
    await cli(['publish', exchange, 'stream', '"tick"']);
    await waitFor('the consumer to print the message', () => stdout.includes('"tick"'), { timeoutMs: 15_000, retryErrors: true });
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

  await t.test('usage and configuration errors exit 2; server errors exit 1', async () => {
    const missingArgument = await cli(['publish']);
    assert.equal(missingArgument.code, 2);
    assert.match(missingArgument.stderr, /missing required argument 'exchange'/);
    const badFlag = await cli(['consume', exchange, 'jobs', '--max', 'many']);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /^mombroker: --max: expected an integer/);
    const noQueue = await cli(['publish', exchange]);
    assert.equal(noQueue.code, 2);
    const noCredentials = await runCli(['publish', exchange, 'jobs', '1'], { cwd: home, env: { MOM_URL: broker.url } });
    assert.equal(noCredentials.code, 2);
    assert.match(noCredentials.stderr, /^mombroker: no user .* and password/);
    const wrongPassword = await cli(['status', exchange, 'jobs'], { env: { MOM_PASSWORD: 'definitely-wrong' } });
    assert.equal(wrongPassword.code, 1);
    assert.match(wrongPassword.stderr, /\(invalid_credentials\)\n$/);
    const missingExchange = await cli(['declare', 'queue', `nope-${randomUUID().slice(0, 8)}`, 'q']);
    assert.equal(missingExchange.code, 1);
    assert.match(missingExchange.stderr, /\(exchange_not_found\)\n$/);
    const health = await runCli(['status'], { cwd: home, env: { MOM_URL: broker.url } });
    assert.equal(health.code, 0, 'the health needs no credentials');
  });

  await t.test('passwords: --password works but warns; --password-stdin reads the first line and leaves the rest', async () => {
    const noPassword = { MOM_URL: broker.url, MOM_USER: 'admin' };
    await cli(['declare', 'queue', exchange, 'secrets']);
    const flagged = await runCli(['publish', exchange, 'secrets', '"by flag"', '--password', broker.adminPassword], { cwd: home, env: noPassword });
    assert.equal(flagged.code, 0, flagged.stderr);
    assert.match(flagged.stderr, /^mombroker: warning: --password shows the password to every user of this machine/);
    assert.equal((await cli(['publish', exchange, 'secrets', '"by env"'])).stderr, '', 'MOM_PASSWORD: no warning');

    // The password on the first line, messages on the next ones.
    const piped = await runCli(['publish', exchange, 'secrets', '--password-stdin'], { cwd: home, env: noPassword, input: `${broker.adminPassword}\n"line 1"\n"line 2"\n` });
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stderr, '');
    assert.equal(lines(piped.stdout).length, 2, 'two messages published from the lines after the password');
    const alone = await runCli(['declare', 'queue', exchange, 'secrets', '--password-stdin'], { cwd: home, env: noPassword, input: `${broker.adminPassword}\n` });
    assert.equal(alone.code, 0, alone.stderr);
    const consumed = await runCli(['consume', exchange, 'secrets', '--max', '4', '--password-stdin'], { cwd: home, env: noPassword, input: `${broker.adminPassword}\r\n` });
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.deepEqual(lines(consumed.stdout).map((line) => JSON.parse(line).payload), ['by flag', 'by env', 'line 1', 'line 2']);

    const empty = await runCli(['status', exchange, 'secrets', '--password-stdin'], { cwd: home, env: noPassword, input: '' });
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /--password-stdin: stdin had no password line/);
    const both = await runCli(['status', exchange, 'secrets', '--password-stdin', '--password', 'x'], { cwd: home, env: noPassword, input: 'y\n' });
    assert.equal(both.code, 2);
    assert.match(both.stderr, /one way only/);
    const wrong = await runCli(['status', exchange, 'secrets', '--password-stdin'], { cwd: home, env: noPassword, input: 'not-the-password\n' });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /\(invalid_credentials\)\n$/);
  });
});
