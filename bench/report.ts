/**
 * The benchmark's results: a table with min/median/max over runs, the ratio to reference
 * brokers measured on the same machine, whether the targets are met, and the same data as
 * JSON. Everything here is pure except writeJson().
 */
import { writeFileSync } from 'node:fs';
import type { FsyncPolicy } from './broker-under-test';
import type { LatencyResult } from './latency';
import type { CpuShare } from './cpu-meter';
import { spread, type Spread } from './stats';
import type { ThroughputResult } from './throughput';

export interface Reference {
  name: string;
  msgPerSecond: number;
  /** p99 at 2,000 msg/s, when it was measured. */
  p99Ms?: number;
  note?: string;
}

export interface Targets {
  minMsgPerSecond: number;
  maxP99Ms: number;
}

/** Same machine, same payloads, medians of 3 runs (from the issue that asked for this benchmark). */
export const SINGLE_NODE_REFERENCES: Reference[] = [
  { name: 'RabbitMQ classic', msgPerSecond: 25_000, note: 'durable queue, publisher confirms' },
  { name: 'RabbitMQ quorum', msgPerSecond: 17_500 },
  { name: 'NATS JetStream R1', msgPerSecond: 20_300, note: 'without fsync' },
];
/** Their p99 at 2,000 msg/s ranged over 3.1–4.0 ms. */
export const SINGLE_NODE_REFERENCE_P99_MS = { min: 3.1, max: 4.0 };
export const CLUSTER_REFERENCES: Reference[] = [
  { name: 'RabbitMQ quorum (3 nodes)', msgPerSecond: 8_600, p99Ms: 9.3 },
  { name: 'NATS JetStream R3', msgPerSecond: 9_400, p99Ms: 15 },
];
export const SINGLE_NODE_TARGETS: Targets = { minMsgPerSecond: 30_000, maxP99Ms: 3 };
export const CLUSTER_TARGETS: Targets = { minMsgPerSecond: 12_000, maxP99Ms: 9 };

export interface RunResult {
  run: number;
  throughput: ThroughputResult;
  latency: LatencyResult;
}

/** The workload as given on the command line (see run.ts's usage), recorded in the report. */
export interface WorkloadSettings {
  runs: number;
  seconds: number;
  warmupSeconds: number;
  settleSeconds: number;
  producers: number;
  consumers: number;
  latencyConsumers: number;
  inFlight: number;
  pullMax: number;
  maxBacklog: number;
  payloadBytes: number;
  rate: number;
  fsync: FsyncPolicy;
}

export interface BenchConfig extends WorkloadSettings {
  mode: 'single' | 'cluster';
  nodes: number;
  pullWaitMs: number;
  acks: 'all';
  replicationFactor: number;
  /** What was measured: both phases unless --only. */
  phases: Array<'throughput' | 'latency'>;
}

export interface Environment {
  node: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  loadAverageBefore: number[];
  loadAverageAfter: number[];
  dataFilesystem: { type: string; fsyncIsReal: boolean };
  brokerUrl: string;
  brokerPids: number[];
  /** The broker's source: commit, and whether src/ differed from it. */
  source?: { commit: string; uncommittedSrcChanges: boolean };
}

export interface Summary {
  consumedPerSecond: Spread;
  publishedPerSecond: Spread;
  latencyP50Ms: Spread;
  latencyP99Ms: Spread;
  latencyMaxMs: Spread;
  latencyAchievedRate: Spread;
}

export interface Verdict {
  throughputMet: boolean;
  p99Met: boolean;
}

export interface BenchReport {
  benchmark: 'mombroker';
  startedAt: string;
  finishedAt: string;
  config: BenchConfig;
  environment: Environment;
  targets: Targets;
  references: Reference[];
  summary: Summary;
  verdict: Verdict;
  runs: RunResult[];
  /** Top self-time functions of the broker, when run with --cpu-prof. */
  profile?: unknown;
}

export function summarize(runs: RunResult[]): Summary {
  if (runs.length === 0) throw new RangeError('summarize: no runs');
  return {
    consumedPerSecond: spread(runs.map((r) => r.throughput.consumedPerSecond)),
    publishedPerSecond: spread(runs.map((r) => r.throughput.publishedPerSecond)),
    latencyP50Ms: spread(runs.map((r) => r.latency.latencyMs.p50)),
    latencyP99Ms: spread(runs.map((r) => r.latency.latencyMs.p99)),
    latencyMaxMs: spread(runs.map((r) => r.latency.latencyMs.max)),
    latencyAchievedRate: spread(runs.map((r) => r.latency.achievedRate)),
  };
}

/** Targets are judged on the medians. */
export function judge(summary: Summary, targets: Targets): Verdict {
  return {
    throughputMet: summary.consumedPerSecond.median >= targets.minMsgPerSecond,
    p99Met: summary.latencyP99Ms.median <= targets.maxP99Ms,
  };
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function formatRate(value: number): string {
  return integer.format(Math.round(value));
}

export function formatMs(value: number): string {
  return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

function ratio(value: number, reference: number): string {
  return `${(value / reference).toFixed(2)}×`;
}

/** "end-to-end 31,200 msg/s (1.25× RabbitMQ classic 25,000, …; target ≥ 30,000: met)" */
export function throughputLine(report: Pick<BenchReport, 'summary' | 'references' | 'targets' | 'verdict'>): string {
  const value = report.summary.consumedPerSecond.median;
  const comparisons = report.references.map((ref) => `${ratio(value, ref.msgPerSecond)} ${ref.name} ${formatRate(ref.msgPerSecond)}`).join(', ');
  return `end-to-end ${formatRate(value)} msg/s (${comparisons}; target ≥ ${formatRate(report.targets.minMsgPerSecond)}: ${report.verdict.throughputMet ? 'met' : 'NOT met'})`;
}

/** "p99 2.10 ms at 2,000 msg/s (RabbitMQ/NATS 3.1–4.0 ms; target ≤ 3 ms: met)" */
export function latencyLine(report: Pick<BenchReport, 'summary' | 'references' | 'targets' | 'verdict' | 'config'>): string {
  const p99 = report.summary.latencyP99Ms.median;
  const p50 = report.summary.latencyP50Ms.median;
  const withP99 = report.references.filter((ref) => ref.p99Ms !== undefined);
  const references =
    withP99.length > 0
      ? withP99.map((ref) => `${ref.name} ${ref.p99Ms} ms`).join(', ')
      : `RabbitMQ/NATS ${SINGLE_NODE_REFERENCE_P99_MS.min}–${SINGLE_NODE_REFERENCE_P99_MS.max} ms`;
  return `latency p99 ${formatMs(p99)} ms, p50 ${formatMs(p50)} ms at ${formatRate(report.config.rate)} msg/s (${references}; target p99 ≤ ${report.targets.maxP99Ms} ms: ${report.verdict.p99Met ? 'met' : 'NOT met'})`;
}

function pad(text: string, width: number, left = false): string {
  return left ? text.padEnd(width) : text.padStart(width);
}

/** The human-readable report (what `npm run bench` prints). */
export function formatReport(report: BenchReport): string {
  const { config, environment, summary } = report;
  const lines: string[] = [];
  const where = config.mode === 'single' ? 'single node (--role all)' : `${config.nodes}-node cluster through the gateway (RF=${config.replicationFactor})`;
  lines.push(`mombroker bench: ${where}, fsync=${config.fsync}, acks=${config.acks}`);
  lines.push(
    `  ${config.runs} run(s) × ${config.seconds} s after ${config.warmupSeconds} s warm-up; payload ${config.payloadBytes} B; ` +
      `${config.producers} producers × ${config.inFlight} publishes in flight; ${config.consumers} consumers pulling ${config.pullMax} (long poll ${config.pullWaitMs} ms), acking in the background; backlog bound ${config.maxBacklog === 0 ? 'none' : formatRate(config.maxBacklog)}`,
  );
  lines.push(`  latency: ${formatRate(config.rate)} msg/s timer-driven, ${config.latencyConsumers} consumers, after ${config.settleSeconds} s idle`);
  lines.push(
    `  machine: ${environment.cpus} × ${environment.cpuModel}, node ${environment.node}; load average before ${environment.loadAverageBefore.map((x) => x.toFixed(2)).join(' ')}, after ${environment.loadAverageAfter.map((x) => x.toFixed(2)).join(' ')}`,
  );
  if (environment.source) lines.push(`  source: ${environment.source.commit.slice(0, 12)}${environment.source.uncommittedSrcChanges ? ' + uncommitted changes in src/' : ''}`);
  if (!environment.dataFilesystem.fsyncIsReal) lines.push('  WARNING: the data dir is on tmpfs: fsync does nothing there');
  lines.push('');
  const cpuText = (cpu: CpuShare | undefined) => (cpu === undefined ? '' : `${pad(cpu.broker.toFixed(2), 12)}${pad(cpu.generator.toFixed(2), 6)}${pad(cpu.other.toFixed(2), 7)}`);
  const cpuHeader = `${pad('cpu broker', 12)}${pad('gen', 6)}${pad('other', 7)}`;
  if (config.phases.includes('throughput')) {
    lines.push(`  throughput (cpu = average cores used in the window)`);
    lines.push(`  ${pad('run', 5, true)}${pad('consumed/s', 12)}${pad('published/s', 13)}${pad('backlog', 9)}${pad('errors', 8)}${cpuHeader}`);
    for (const run of report.runs) {
      const t = run.throughput;
      lines.push(
        `  ${pad(String(run.run), 5, true)}${pad(formatRate(t.consumedPerSecond), 12)}${pad(formatRate(t.publishedPerSecond), 13)}${pad(formatRate(t.backlogAtEnd), 9)}${pad(String(t.publishErrors), 8)}${cpuText(t.cpu)}`,
      );
    }
    lines.push('');
  }
  if (config.phases.includes('latency')) {
    lines.push(`  latency at ${formatRate(config.rate)} msg/s (ms; pub p99 = publish answered; gen lag = how late the generator's timer fired)`);
    lines.push(`  ${pad('run', 5, true)}${pad('p50', 8)}${pad('p90', 8)}${pad('p99', 8)}${pad('p99.9', 8)}${pad('max', 8)}${pad('pub p99', 9)}${pad('sent/s', 8)}${pad('lost', 6)}${pad('gen lag p99', 13)}${cpuHeader}`);
    for (const run of report.runs) {
      const l = run.latency;
      const m = l.latencyMs;
      lines.push(
        `  ${pad(String(run.run), 5, true)}${pad(formatMs(m.p50), 8)}${pad(formatMs(m.p90), 8)}${pad(formatMs(m.p99), 8)}${pad(formatMs(m.p999), 8)}${pad(formatMs(m.max), 8)}${pad(formatMs(l.publishRttMs.p99), 9)}` +
          `${pad(formatRate(l.achievedRate), 8)}${pad(String(l.missing + l.publishErrors), 6)}${pad(formatMs(l.generatorLagMs.p99), 13)}${cpuText(l.cpu)}`,
      );
    }
    lines.push('');
  }
  lines.push(`  ${pad('', 30, true)}${pad('min', 10)}${pad('median', 10)}${pad('max', 10)}`);
  const row = (label: string, s: Spread, format: (v: number) => string) => lines.push(`  ${pad(label, 30, true)}${pad(format(s.min), 10)}${pad(format(s.median), 10)}${pad(format(s.max), 10)}`);
  if (config.phases.includes('throughput')) {
    row('end-to-end (consumed) msg/s', summary.consumedPerSecond, formatRate);
    row('published msg/s', summary.publishedPerSecond, formatRate);
  }
  if (config.phases.includes('latency')) {
    row(`latency p50 ms @${formatRate(config.rate)}/s`, summary.latencyP50Ms, formatMs);
    row(`latency p99 ms @${formatRate(config.rate)}/s`, summary.latencyP99Ms, formatMs);
    row('latency max ms', summary.latencyMaxMs, formatMs);
  }
  lines.push('');
  if (config.phases.includes('throughput')) lines.push(`  ${throughputLine(report)}`);
  if (config.phases.includes('latency')) lines.push(`  ${latencyLine(report)}`);
  for (const ref of report.references) if (ref.note) lines.push(`  (${ref.name}: ${ref.note})`);
  return lines.join('\n');
}

export function writeJson(path: string, report: BenchReport): void {
  writeFileSync(path, JSON.stringify(report, null, 2) + '\n');
}
