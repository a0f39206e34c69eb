/**
 * The bench's side of `--tail` (see tail-probe.ts): it opens and closes the probe's window
 * with SIGUSR2 around the latency phase's measured window, reads the report the broker wrote,
 * and formats the reports of the runs as one table.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TailProbeReport } from './tail-probe';

const REPORT_TIMEOUT_MS = 5_000;

/** Window hooks for runLatency that signal the broker's probe; `collect` reads what it wrote. */
export function tailWindow(dir: string, pid: number): { opened(): void; closed(): void; collect(): Promise<TailProbeReport> } {
  const path = join(dir, `tail-${pid}.json`);
  return {
    opened: () => {
      rmSync(path, { force: true });
      process.kill(pid, 'SIGUSR2');
    },
    closed: () => {
      process.kill(pid, 'SIGUSR2');
    },
    collect: async () => {
      const deadline = Date.now() + REPORT_TIMEOUT_MS;
      while (!existsSync(path)) {
        if (Date.now() > deadline) throw new Error(`--tail: the broker (pid ${pid}) wrote no probe report to ${path} within ${REPORT_TIMEOUT_MS} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // Written with one writeFileSync: a report that does not parse yet is still being written.
      for (;;) {
        try {
          return JSON.parse(readFileSync(path, 'utf8')) as TailProbeReport;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    },
  };
}

function cell(values: number[], digits = 2): string {
  if (values.length === 0) return '–';
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return sorted.length === 1 ? median.toFixed(digits) : `${median.toFixed(digits)} (${sorted[0]!.toFixed(digits)}–${sorted[sorted.length - 1]!.toFixed(digits)})`;
}

/** Medians (and ranges) over the runs: the event loop, then each GC kind and kind of work. */
export function formatTail(reports: TailProbeReport[]): string {
  if (reports.length === 0) return '';
  const lines = [
    `where the latency tail comes from, inside the broker (bench/tail-probe.ts), medians of ${reports.length} run(s) over the latency windows:`,
    `  event loop delay ms: p50 ${cell(reports.map((r) => r.eventLoopDelayMs.p50))}, p99 ${cell(reports.map((r) => r.eventLoopDelayMs.p99))}, p99.9 ${cell(reports.map((r) => r.eventLoopDelayMs.p999))}, max ${cell(reports.map((r) => r.eventLoopDelayMs.max))}; loop busy ${cell(reports.map((r) => r.eventLoopUtilization * 100), 1)} %`,
    '  | what | per second | mean ms | max ms | > 1 ms | > 5 ms | ms per second |',
    '  |---|---|---|---|---|---|---|',
  ];
  const names = new Set<string>();
  for (const report of reports) for (const name of [...Object.keys(report.gc).map((n) => `gc: ${n}`), ...Object.keys(report.work)]) names.add(name);
  for (const name of [...names].sort()) {
    const rows = reports.map((report) => {
      const entry = name.startsWith('gc: ') ? report.gc[name.slice(4)] : report.work[name];
      const seconds = report.windowMs / 1000;
      return entry ? { rate: entry.count / seconds, mean: entry.meanMs, max: entry.maxMs, over1: entry.over1Ms / seconds, over5: entry.over5Ms / seconds, share: entry.totalMs / seconds } : undefined;
    });
    const present = rows.filter((row): row is NonNullable<typeof row> => row !== undefined);
    lines.push(
      `  | ${name} | ${cell(present.map((r) => r.rate), 1)} | ${cell(present.map((r) => r.mean), 3)} | ${cell(present.map((r) => r.max), 2)} | ${cell(present.map((r) => r.over1), 2)}/s | ${cell(present.map((r) => r.over5), 2)}/s | ${cell(present.map((r) => r.share), 1)} |`,
    );
  }
  return lines.join('\n');
}
