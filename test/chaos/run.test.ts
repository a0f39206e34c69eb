/**
 * Unit tests for the fault suite's command line (chaos/run.ts) and report (chaos/report.ts):
 * no processes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDetails, formatTable, suiteFailed } from '../../chaos/report';
import type { ScenarioResult } from '../../chaos/runner';
import { parseChaosArgs } from '../../chaos/run';
import { SCENARIOS } from '../../chaos/scenarios';

test('parseChaosArgs: names and numbers, all by default, --short and --out', () => {
  assert.equal(parseChaosArgs([]).scenarios.length, SCENARIOS.length);
  const args = parseChaosArgs(['leader-kill', '4', '--short', '--out', 'x.json', 'leader-kill']);
  assert.deepEqual(args.scenarios.map((s) => s.name), ['leader-kill', 'leader-zk-cut']);
  assert.equal(args.short, true);
  assert.equal(args.out, 'x.json');
  assert.equal(parseChaosArgs(['--out=y.json']).out, 'y.json');
  assert.throws(() => parseChaosArgs(['nope']), /unknown scenario "nope"/);
  assert.throws(() => parseChaosArgs(['--fast']), /unknown option --fast/);
  assert.throws(() => parseChaosArgs(['--out']), /--out: expected a file name/);
});

test('every scenario of issue 11 §1 is there, numbered 1–10, with distinct names', () => {
  assert.deepEqual(SCENARIOS.map((s) => s.number), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(new Set(SCENARIOS.map((s) => s.name)).size, SCENARIOS.length);
  assert.deepEqual(SCENARIOS.filter((s) => s.needsNetns).map((s) => s.number), [4, 5, 6, 7]);
});

function result(overrides: Partial<ScenarioResult>): ScenarioResult {
  return {
    number: 1,
    name: 'leader-kill',
    title: 't',
    status: 'passed',
    reasons: [],
    lab: 'netns',
    startedAt: '',
    durationMs: 12_000,
    verdict: undefined,
    windows: [],
    ledWindowMs: 5_300,
    followedWindowMs: 400,
    isrFullAfterMs: 1_250,
    checks: [],
    faults: [],
    notes: [],
    consumerErrors: {},
    publishErrors: {},
    ...overrides,
  };
}

test('the table: one row per scenario, "not run" without numbers', () => {
  const table = formatTable([result({}), result({ number: 4, name: 'leader-zk-cut', status: 'not run', reasons: ['needs network namespaces: not root'], ledWindowMs: undefined, followedWindowMs: undefined, isrFullAfterMs: undefined })]);
  const lines = table.split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[2]!, /\| 1 \| leader-kill \| passed \| – .*\| 5\.3 s \| 0\.4 s \| 1\.3 s \|/);
  assert.match(lines[3]!, /\| 4 \| leader-zk-cut \| not run \|/);
  assert.match(formatDetails([result({ status: 'not run', reasons: ['needs network namespaces: not root'] })]), /not run: needs network namespaces: not root/);
});

test('the suite fails when a scenario failed or errored, not when one did not run', () => {
  assert.equal(suiteFailed([result({}), result({ status: 'not run' })]), false);
  assert.equal(suiteFailed([result({}), result({ status: 'failed' })]), true);
  assert.equal(suiteFailed([result({ status: 'error' })]), true);
});
