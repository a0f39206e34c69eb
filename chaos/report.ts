/**
 * The fault suite's report: one table row per scenario (printed), and the JSON of every
 * result (`chaos-results.json`, or `--out FILE`). Pure formatting, no I/O.
 */
import type { ScenarioResult } from './runner';

export interface SuiteReport {
  startedAt: string;
  command: string;
  short: boolean;
  lab: string;
  results: ScenarioResult[];
}

export function seconds(ms: number | undefined): string {
  return ms === undefined ? '–' : `${(ms / 1000).toFixed(1)} s`;
}

/** One line per scenario, Markdown table syntax (it reads in a terminal and pastes into the README). */
export function formatTable(results: readonly ScenarioResult[]): string {
  const header = ['#', 'scenario', 'result', 'acked', 'lost', 'unexpected', 'duplicates (unexplained)', 'order', 'double leases', 'no-publish window: led', 'followed', 'ISR full after heal'];
  const rows = results.map((r) => {
    const v = r.verdict;
    return [
      String(r.number),
      r.name,
      r.status === 'not run' ? 'not run' : r.status,
      v ? String(v.acknowledged) : '–',
      v ? String(v.lost) : '–',
      v ? String(v.unexpected) : '–',
      v ? `${v.duplicates} (${v.duplicatesByReason.unexplained})` : '–',
      v ? String(v.orderViolations) : '–',
      v ? String(v.doubleLeases) : '–',
      seconds(r.ledWindowMs),
      seconds(r.followedWindowMs),
      seconds(r.isrFullAfterMs),
    ];
  });
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Why each scenario that did not pass did not, and what explains the duplicates of those that ran. */
export function formatDetails(results: readonly ScenarioResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    const v = r.verdict;
    const parts: string[] = [];
    if (v) {
      const why = Object.entries(v.duplicatesByReason).filter(([, n]) => n > 0).map(([reason, n]) => `${n} ${reason}`).join(', ');
      parts.push(`${v.published} tried, ${v.acknowledged} acked, ${v.unacknowledged} unacknowledged (${v.unacknowledgedDelivered} of them delivered), ${v.deliveries} deliveries${why ? `; duplicates: ${why}` : ''}${v.orderInversionsExcused > 0 ? `; ${v.orderInversionsExcused} order inversions after a failover or redelivery` : ''}`);
    }
    for (const check of r.checks) parts.push(`${check.ok ? 'ok' : 'FAILED'}: ${check.name}${check.detail ? ` (${check.detail})` : ''}`);
    for (const reason of r.reasons) parts.push(`${r.status === 'not run' ? 'not run' : 'why'}: ${reason.split('\n')[0]}`);
    out.push(`${r.number} ${r.name} [${r.status}, ${r.lab}, ${seconds(r.durationMs)}]\n${parts.map((p) => `    ${p}`).join('\n')}`);
  }
  return out.join('\n');
}

/** Exit status of the suite: 0 when nothing that ran failed. */
export function suiteFailed(results: readonly ScenarioResult[]): boolean {
  return results.some((r) => r.status === 'failed' || r.status === 'error');
}
