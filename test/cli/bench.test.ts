import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { MOMBROKER_BIN, startBroker } from '../helpers/broker';

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MOMBROKER_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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
});

test('mombroker bench refuses a bad phase with exit code 2', async () => {
  const result = await run(['bench', '--only', 'everything', '--user', 'a', '--password', 'b'], {});
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--only/);
});
