/**
 * Smoke test of `npm run bench`: one quick run against a real single-node broker. It checks
 * that the JSON report is complete and its numbers positive, never how fast anything is.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const RUN_JS = resolve(__dirname, '..', '..', 'bench', 'run.js');

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [RUN_JS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('exit', (code) => resolveRun({ code, stdout, stderr }));
  });
}

function assertPositive(value: unknown, what: string): void {
  assert.equal(typeof value, 'number', `${what} is not a number: ${JSON.stringify(value)}`);
  assert.ok(Number.isFinite(value as number) && (value as number) > 0, `${what} should be positive, got ${String(value)}`);
}

test('bench --quick runs against a real broker and writes positive numbers as JSON', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mom-bench-smoke-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'results.json');

  const { code, stdout, stderr } = await runBench(['--quick', '--out', out]);
  assert.equal(code, 0, `bench exited ${code}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
  assert.match(stdout, /end-to-end [\d,]+ msg\/s/);
  assert.match(stdout, /latency p99 [\d.]+ ms/);

  const report = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(report.config.mode, 'single');
  assert.equal(report.config.runs, 1);
  assert.equal(report.config.fsync, 'batch');
  assert.equal(report.runs.length, 1);
  const [run] = report.runs;
  assertPositive(run.throughput.consumedPerSecond, 'consumedPerSecond');
  assertPositive(run.throughput.publishedPerSecond, 'publishedPerSecond');
  assertPositive(run.latency.achievedRate, 'achievedRate');
  assertPositive(run.latency.latencyMs.count, 'latency samples');
  for (const key of ['p50', 'p99', 'max']) assertPositive(run.latency.latencyMs[key], `latency ${key}`);
  for (const key of ['consumedPerSecond', 'publishedPerSecond', 'latencyP50Ms', 'latencyP99Ms']) {
    for (const which of ['min', 'median', 'max']) assertPositive(report.summary[key][which], `summary.${key}.${which}`);
  }
  assert.equal(typeof report.verdict.throughputMet, 'boolean');
  assert.equal(typeof report.verdict.p99Met, 'boolean');
  assert.equal(report.environment.loadAverageBefore.length, 3);
});

test('bench refuses bad arguments with a message naming them', async () => {
  const { code, stderr } = await runBench(['--fsync', 'sometimes']);
  assert.equal(code, 2);
  assert.match(stderr, /--fsync: expected batch, always or never, got "sometimes"/);
});
