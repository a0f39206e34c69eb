/**
 * `npm run chaos [-- SCENARIO… --short --out FILE]`: the fault suite (issue 11 §1). Runs the
 * named scenarios (names or numbers; all by default), one after the other, each on a fresh
 * cluster; prints a table and writes the JSON. Needs root for network namespaces; where they
 * cannot be made, the scenarios that need them are reported "not run" and the others run on
 * loopback. Exit code 0 when every scenario that ran passed, 1 otherwise, 2 on bad usage.
 */
import { writeFileSync } from 'node:fs';
import { interrupted, undoAll } from './cleanup';
import { namespacesUnavailable } from './lab';
import { formatDetails, formatTable, suiteFailed, type SuiteReport } from './report';
import { lastHistory, runScenario, type ScenarioResult } from './runner';
import { findScenario, SCENARIOS, type Scenario } from './scenarios';

export const USAGE = `usage: npm run chaos [-- [SCENARIO…] [--short] [--out FILE]]

Scenarios (name or number; all of them when none is named):
${SCENARIOS.map((s) => `  ${String(s.number).padStart(2)}  ${s.name.padEnd(17)} ${s.title}${s.needsNetns ? ' [network namespaces]' : ''}`).join('\n')}

  --short      shorter faults and load (what npm test runs)
  --out FILE   where to write the JSON (default chaos-results.json)
  --list       print the scenarios and exit`;

export interface ChaosArgs {
  scenarios: Scenario[];
  short: boolean;
  out: string;
  list: boolean;
}

export function parseChaosArgs(argv: readonly string[]): ChaosArgs {
  const args: ChaosArgs = { scenarios: [], short: false, out: 'chaos-results.json', list: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--short') args.short = true;
    else if (arg === '--list' || arg === '--help' || arg === '-h') args.list = true;
    else if (arg === '--out') {
      const value = argv[++i];
      if (value === undefined || value.startsWith('--')) throw new Error('--out: expected a file name');
      args.out = value;
    } else if (arg.startsWith('--out=')) args.out = arg.slice('--out='.length);
    else if (arg.startsWith('-')) throw new Error(`unknown option ${arg}`);
    else {
      const scenario = findScenario(arg);
      if (!scenario) throw new Error(`unknown scenario ${JSON.stringify(arg)}: expected one of ${SCENARIOS.map((s) => s.name).join(', ')} or 1–${SCENARIOS.length}`);
      if (!args.scenarios.includes(scenario)) args.scenarios.push(scenario);
    }
  }
  if (args.scenarios.length === 0) args.scenarios = [...SCENARIOS];
  return args;
}

export async function main(argv: readonly string[]): Promise<number> {
  let args: ChaosArgs;
  try {
    args = parseChaosArgs(argv);
  } catch (error) {
    process.stderr.write(`chaos: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (args.list) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const unavailable = namespacesUnavailable();
  const progress = (text: string) => process.stderr.write(`chaos: ${new Date().toISOString().slice(11, 19)} ${text}\n`);
  if (unavailable !== undefined) progress(`network namespaces cannot be made here (${unavailable}): scenarios that need them will be reported "not run", the others run on loopback`);
  const report: SuiteReport = { startedAt: new Date().toISOString(), command: `npm run chaos -- ${argv.join(' ')}`.trim(), short: args.short, lab: unavailable === undefined ? 'netns' : `loopback (${unavailable})`, results: [] };
  const results: ScenarioResult[] = report.results;
  for (const scenario of args.scenarios) {
    if (interrupted()) break;
    const result = await runScenario(scenario, { short: args.short, namespacesUnavailable: unavailable, progress });
    results.push(result);
    writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
    // The whole history of a scenario that did not pass, to look into.
    if (lastHistory && result.status !== 'passed') {
      const file = args.out.replace(/(\.json)?$/, `.${scenario.name}.history.json`);
      writeFileSync(file, JSON.stringify({ ...lastHistory, inboxes: Object.fromEntries(lastHistory.inboxes) }));
      progress(`[${scenario.name}] its history is in ${file}`);
    }
  }
  process.stdout.write(`\n${formatTable(results)}\n\n${formatDetails(results)}\n\nJSON: ${args.out}\n`);
  for (const r of results) if (r.logTails) process.stderr.write(`\n===== logs of ${r.name} (${r.status}) =====\n${r.logTails}\n`);
  return suiteFailed(results) ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      undoAll();
      process.exit(code);
    },
    (error: unknown) => {
      process.stderr.write(`chaos: ${(error as Error).stack ?? String(error)}\n`);
      undoAll();
      process.exit(1);
    },
  );
}
