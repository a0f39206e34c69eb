import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { MOMBROKER_BIN, startBroker } from '../helpers/broker';

function run(args: string[], env: Record<string, string>, program?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const [file, argv] = program === undefined ? [process.execPath, [MOMBROKER_BIN, ...args]] : [program, args];
    const child = spawn(file, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('mombroker bench measures a running broker and prints one JSON line per phase', async (t) => {
  const broker = await startBroker(t);
  const env = { MOM_URL: broker.url, MOM_USER: 'admin', MOM_PASSWORD: broker.adminPassword };
  const result = await run(['bench', '--seconds', '1', '--rate', '200', '--producers', '1', '--consumers', '1'], env);
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, number | string>);
  assert.deepEqual(lines.map((line) => line.phase), ['throughput', 'latency']);
  assert.ok((lines[0]!.consumed_per_second as number) > 0, 'messages went through');
  assert.ok((lines[1]!.p50_ms as number) > 0 && (lines[1]!.p99_ms as number) >= (lines[1]!.p50_ms as number));
  assert.equal(lines[1]!.missing, 0);
  assert.doesNotMatch(result.stderr, /\x1b\[|\[#/, 'no progress drawn when stderr is not a terminal');
});

test('mombroker bench on a terminal draws its progress on stderr while it runs', async (t) => {
  const broker = await startBroker(t);
  // util-linux script(1) runs it on a pseudo-terminal; its output is the terminal's (stdout and stderr).
  const args = ['bench', '--seconds', '1', '--only', 'throughput', '--producers', '1', '--consumers', '1'];
  const command = [process.execPath, MOMBROKER_BIN, ...args].map((word) => `'${word}'`).join(' ');
  const env = { MOM_URL: broker.url, MOM_USER: 'admin', MOM_PASSWORD: broker.adminPassword };
  const result = await run(['-qefc', command, '/dev/null'], env, 'script');
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /\r\x1b\[2Kthroughput {2}\[[#-]+\] {2}\d+\.\d\/3\.0 s {2}published [\d,]+ {2}consumed [\d,]+/, 'the progress line');
  const json = result.stdout.split(/\r?\n|\r\x1b\[2K/).filter((line) => line.startsWith('{'));
  assert.deepEqual(json.map((line) => (JSON.parse(line) as { phase: string }).phase), ['throughput'], 'the result is still a JSON line');
});

test('mombroker bench refuses a bad phase with exit code 2', async () => {
  const result = await run(['bench', '--only', 'everything', '--user', 'a', '--password', 'b'], {});
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--only/);
});
