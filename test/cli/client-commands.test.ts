/**
 * `mombroker declare|publish|consume|status|queues|topics|purge|redrive|dead-letters` as a user runs them: the real executable against
 * a running broker, configured by MOM_URL/MOM_USER/MOM_PASSWORD or a MOM-py config.json.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect } from '../../src/client';
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

    const status = await cli(['status', exchange, 'jobs', '--json']);
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
    const status = JSON.parse((await cli(['status', exchange, 'jobs', '--json'])).stdout) as { queue: { in_flight: number } };
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

  await t.test('consume without --max follows until Ctrl-C, then prints a one-line summary on stderr', async () => {
    const help = await cli(['consume', '--help']);
    assert.match(help.stdout.replace(/\s+/g, ' '), /without --max it follows forever, until Ctrl-C/);
    await cli(['declare', 'queue', exchange, 'follow']);
    const child = spawnCli(['consume', exchange, 'follow'], { cwd: home, env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.stdin.end();
    await cli(['publish', exchange, 'follow'], { input: '"one"\n"two"\n' });
    await waitFor('the consumer to print both messages', () => lines(stdout).length === 2, { retryErrors: true });
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.equal(stderr, `consumed 2 message(s) from queue ${exchange}/follow\n`);
  });

  await t.test('status prints tables: the broker, its nodes and partitions, an exchange, a queue; --json keeps the JSON', async () => {
    const health = await runCli(['status'], { cwd: home, env: { MOM_URL: broker.url } });
    assert.equal(health.code, 0, health.stderr);
    const [header, broker1] = lines(health.stdout);
    assert.match(header!, /^URL\s+STATUS\s+NODE\s+ROLES\s+VERSION\s+UPTIME$/);
    assert.match(broker1!, new RegExp(`^${broker.url}\\s+ok\\s+node-1\\s+node,auth,gateway\\s+\\d+\\.\\d+\\.\\d+\\s+\\d+`));
    assert.match(health.stdout, /^NODE\s+URL\s+GRPC\s+VERSION\s+LEADS$/m);
    assert.match(health.stdout, /^node-1\s+http:\/\/\S+\s+\S+\s+\S+\s+16$/m, 'the one node leads all 16 partitions');
    assert.match(health.stdout, /^PARTITION\s+LEADER\s+EPOCH\s+REPLICAS\s+ISR$/m);
    for (let p = 0; p < 16; p++) assert.match(health.stdout, new RegExp(`^\\s*${p}\\s+node-1\\s+\\d+\\s+node-1\\s+node-1$`, 'm'), `partition ${p}`);

    const asJson = await runCli(['status', '--json'], { cwd: home, env: { MOM_URL: broker.url } });
    const parsed = JSON.parse(asJson.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), ['url', 'health'], '--json without arguments: as before tables');

    await cli(['declare', 'queue', exchange, 'tables']);
    await cli(['publish', exchange, 'tables'], { input: '1\n2\n3\n' });
    const queue = await cli(['status', exchange, 'tables']);
    assert.equal(queue.code, 0, queue.stderr);
    assert.match(queue.stdout, /^QUEUE\s+DEPTH\s+IN_FLIGHT\s+DEAD_LETTERS\s+PARTITION\s+LEADER\s+MAX_DELIVERIES\s+MESSAGE_TTL_MS\s+MAX_LENGTH$/m);
    assert.match(queue.stdout, new RegExp(`^${exchange}/tables\\s+3\\s+0\\s+0\\s+\\d+\\s+node-1\\s+0\\s+-\\s+-$`, 'm'));

    const whole = await cli(['status', exchange]);
    assert.equal(whole.code, 0, whole.stderr);
    assert.match(whole.stdout, /^QUEUE\s+DEPTH\s+IN_FLIGHT\s+DEAD_LETTERS\s+PARTITION\s+LEADER$/m);
    assert.match(whole.stdout, /^tables\s+3\s+0\s+0\s+\d+\s+node-1$/m);
    assert.match(whole.stdout, /^TOPIC\s+SUBSCRIPTION\s+DEPTH\s+IN_FLIGHT\s+DEAD_LETTERS\s+PARTITION\s+LEADER\s+RETENTION_MS$/m);
    assert.match(whole.stdout, /^news\s+audit\s+\d+\s+\d+\s+\d+\s+\d+\s+node-1\s+60000$/m);
    const wholeJson = JSON.parse((await cli(['status', exchange, '--json'])).stdout) as { queues: Array<{ name: string }>; topics: Array<{ name: string }> };
    assert.ok(wholeJson.queues.some((q) => q.name === 'tables'));
    assert.deepEqual(wholeJson.topics.map((topic) => topic.name), ['news']);
    assert.equal((await runCli(['status', exchange], { cwd: home, env: { MOM_URL: broker.url } })).code, 2, 'an exchange needs credentials');
  });

  await t.test('queues and topics list an exchange as tables, or as the API answer with --json', async () => {
    const queues = await cli(['queues', exchange]);
    assert.equal(queues.code, 0, queues.stderr);
    const rows = lines(queues.stdout);
    assert.match(rows[0]!, /^QUEUE\s+DEPTH\s+IN_FLIGHT\s+DEAD_LETTERS\s+PARTITION\s+LEADER$/);
    const names = rows.slice(1).map((row) => row.split(/\s+/)[0]);
    assert.deepEqual(names, [...names].sort(), 'sorted by name');
    assert.ok(names.includes('jobs') && names.includes('tables'));
    const json = JSON.parse((await cli(['queues', exchange, '--json'])).stdout) as { queues: Array<Record<string, unknown>> };
    assert.deepEqual(Object.keys(json.queues[0]!), ['name', 'depth', 'in_flight', 'dead_letters', 'partition', 'leader']);
    const topics = await cli(['topics', exchange, '--json']);
    assert.deepEqual((JSON.parse(topics.stdout) as { topics: Array<{ name: string; subscriptions: Array<{ name: string }> }> }).topics.map((topic) => [topic.name, topic.subscriptions.map((sub) => sub.name)]), [['news', ['audit']]]);
    const missing = await cli(['queues', `nope-${randomUUID().slice(0, 8)}`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /\(exchange_not_found\)\n$/);
  });

  await t.test('purge, redrive and dead-letters (list, and delete with --delete)', async () => {
    await cli(['declare', 'queue', exchange, 'repairs', '--max-deliveries', '1']);
    const ids = lines((await cli(['publish', exchange, 'repairs'], { input: '"a"\n"b"\n"c"\n"d"\n' })).stdout);
    // Two become dead letters: the SDK nacks them without requeue.
    const conn = await connect({ url: broker.url, user: 'admin', password: broker.adminPassword });
    try {
      const queue = conn.queue(exchange, 'repairs');
      const pulled = await queue.pull({ max: 2 });
      for (const message of pulled) await message.nack({ requeue: false });
    } finally {
      await conn.close();
    }
    const listed = await cli(['dead-letters', exchange, 'repairs']);
    assert.equal(listed.code, 0, listed.stderr);
    const letters = lines(listed.stdout).map((line) => JSON.parse(line) as { id: string; payload: unknown; reason: string; cursor: number });
    assert.deepEqual(letters.map((l) => [l.id, l.payload, l.reason]), [[ids[0], 'a', 'rejected'], [ids[1], 'b', 'rejected']]);
    assert.equal(lines((await cli(['dead-letters', exchange, 'repairs', '--max', '1'])).stdout).length, 1);

    assert.deepEqual(await cli(['redrive', exchange, 'repairs', '--id', ids[0]!]), { code: 0, stdout: `redrove 1 dead letter(s) of queue ${exchange}/repairs\n`, stderr: '' });
    assert.deepEqual(await cli(['purge', exchange, 'repairs']), { code: 0, stdout: `purged 3 message(s) from queue ${exchange}/repairs\n`, stderr: '' });
    assert.deepEqual(await cli(['dead-letters', exchange, 'repairs', '--delete']), { code: 0, stdout: `deleted 1 dead letter(s) of queue ${exchange}/repairs\n`, stderr: '' });
    assert.equal((await cli(['dead-letters', exchange, 'repairs'])).stdout, '', 'none left');
    assert.deepEqual(await cli(['redrive', exchange, 'repairs']), { code: 0, stdout: `redrove 0 dead letter(s) of queue ${exchange}/repairs\n`, stderr: '' });

    assert.equal((await cli(['purge', exchange, '--topic', 'news', '--subscription', 'audit'])).stdout, `purged 0 message(s) from subscription ${exchange}/news/audit\n`);
    const usage = await cli(['dead-letters', exchange, 'repairs', '--id', 'x']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--id goes with --delete/);
    assert.equal((await cli(['purge', exchange])).code, 2, 'no queue and no --topic');
    const publisher = `pub-${randomUUID().slice(0, 8)}`;
    assert.equal((await cli(['users', 'add', publisher, '--password-stdin', '--data', broker.dataDir], { input: 'publisher-password\n' })).code, 0);
    assert.equal((await cli(['users', 'grant', publisher, '--exchange', exchange, '--allow', 'publish,consume', '--data', broker.dataDir])).code, 0);
    const forbidden = await runCli(['purge', exchange, 'repairs'], { cwd: home, env: { MOM_URL: broker.url, MOM_USER: publisher, MOM_PASSWORD: 'publisher-password' } });
    assert.equal(forbidden.code, 1);
    assert.match(forbidden.stderr, /may not configure .*\(forbidden\)\n$/);
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
