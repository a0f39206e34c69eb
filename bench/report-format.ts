/**
 * The human-readable report (what `npm run bench` prints), pure: the setup, one row per broker
 * and run for each phase, then every figure as min/median/max over runs — with, when peers were
 * measured in this run, its ratio to the best peer's same figure — and the verdict.
 */
import { formatRatio, type Comparison } from './compare';
import type { CpuShare } from '../src/loadgen/cpu-meter';
import { metricsFor, type BenchReport, type MetricDescription, type Reference, type Summary } from './report';
import type { Spread } from '../src/loadgen/stats';

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function formatRate(value: number): string {
  return integer.format(Math.round(value));
}

export function formatMs(value: number): string {
  return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

export function formatUs(value: number | undefined): string {
  if (value === undefined) return '-';
  return value < 100 ? value.toFixed(1) : integer.format(Math.round(value));
}

function formatMetric(metric: MetricDescription, value: number): string {
  return metric.format === 'rate' ? formatRate(value) : metric.format === 'ms' ? formatMs(value) : formatUs(value);
}

function pad(text: string, width: number, left = false): string {
  return left ? text.padEnd(width) : text.padStart(width);
}

/**
 * Cores the rest of the machine (neither the broker measured nor this generator: other
 * programs, idle brokers) may use in a window before the window counts as disturbed. The
 * idle peers and idle mombroker together use about 0.1 of a core.
 */
export const DISTURBED_OTHER_CORES = 0.25;

export function disturbed(cpu: CpuShare | undefined): boolean {
  return cpu !== undefined && cpu.other > DISTURBED_OTHER_CORES;
}

function cpuColumns(cpu: CpuShare | undefined, perMessageUs: number | undefined): string {
  if (cpu === undefined) return `${pad('-', 8)}${pad('-', 6)}${pad('-', 7)} ${pad('-', 8)}`;
  return `${pad(cpu.broker.toFixed(2), 8)}${pad(cpu.generator.toFixed(2), 6)}${pad(cpu.other.toFixed(2), 7)}${disturbed(cpu) ? '!' : ' '}${pad(formatUs(perMessageUs), 8)}`;
}

const CPU_HEADER = `${pad('server', 8)}${pad('gen', 6)}${pad('other', 7)} ${pad('µs/msg', 8)}`;

function nameWidth(report: BenchReport): number {
  return Math.max(12, ...report.brokers.map((broker) => broker.name.length)) + 2;
}

function setupLines(report: BenchReport): string[] {
  const { config, environment } = report;
  const lines: string[] = [];
  const where = config.mode === 'single' ? 'single node (--role all)' : `${config.nodes}-node cluster ${config.direct ? 'with clients on the partition leaders' : 'through the gateway'} (RF=${config.replicationFactor})`;
  const peers = report.brokers.filter((b) => b.peer).map((b) => b.name);
  lines.push(`mombroker bench: ${where}, fsync=${config.fsync}, acks=${config.acks}; ${peers.length > 0 ? `peers measured in this run: ${peers.join(', ')}` : 'no peer measured in this run'}`);
  lines.push(`  ${config.runs} run(s) × ${config.seconds} s after ${config.warmupSeconds} s warm-up, brokers interleaved within each run; payload ${config.payloadBytes} B, persistent`);
  if (config.phases.includes('throughput')) {
    lines.push(
      `  throughput: ${config.producers} producers × ${config.inFlight} unconfirmed publishes, ${config.consumers} consumers (mombroker: pull ${config.pullMax}, long poll ${config.pullWaitMs} ms; peers: prefetch ${config.pullMax}), every message acked; backlog bound ${config.maxBacklog === 0 ? 'none' : formatRate(config.maxBacklog)}`,
    );
  }
  if (config.phases.includes('latency')) {
    lines.push(
      `  latency: 1 producer at ${formatRate(config.rate)} msg/s (≤ ${config.maxUnconfirmed} unconfirmed), ${config.latencyConsumers} consumer(s) with prefetch ${config.pullMax} acking; measured from the intended send time${config.phases.includes('throughput') ? `, after ${config.settleSeconds} s idle` : ''}`,
    );
  }
  lines.push(
    `  machine: ${environment.cpus} × ${environment.cpuModel}, node ${environment.node}; load average before ${environment.loadAverageBefore.map((x) => x.toFixed(2)).join(' ')}, after ${environment.loadAverageAfter.map((x) => x.toFixed(2)).join(' ')}`,
  );
  if (environment.source) lines.push(`  source: ${environment.source.commit.slice(0, 12)}${environment.source.uncommittedSrcChanges ? ' + uncommitted changes in src/' : ''}`);
  if (!environment.dataFilesystem.fsyncIsReal) lines.push('  WARNING: the data dir is on tmpfs: fsync does nothing there');
  const width = nameWidth(report);
  for (const broker of report.brokers) lines.push(`  ${pad(broker.name, width, true)}${broker.description}${broker.error !== undefined ? ` — FAILED, left out: ${broker.error.split('\n')[0]}` : ''}`);
  for (const failed of report.peers?.failed ?? []) lines.push(`  ${pad(failed.peer, width, true)}did not start, not measured: ${failed.error.split('\n')[0]}`);
  return lines;
}

function runTables(report: BenchReport): string[] {
  const { config } = report;
  const width = nameWidth(report);
  const lines: string[] = [];
  if (config.phases.includes('throughput')) {
    lines.push('', '  throughput (server/gen/other = average cores used in the window by the broker, this load generator, the rest; µs/msg = server CPU per message consumed)');
    lines.push(`  ${pad('broker', width, true)}${pad('run', 4)}${pad('consumed/s', 12)}${pad('published/s', 13)}${pad('backlog', 9)}${pad('errors', 8)}${CPU_HEADER}`);
    for (const broker of report.brokers) {
      for (const run of broker.runs) {
        const t = run.throughput;
        lines.push(
          `  ${pad(broker.name, width, true)}${pad(String(run.run), 4)}${pad(formatRate(t.consumedPerSecond), 12)}${pad(formatRate(t.publishedPerSecond), 13)}${pad(formatRate(t.backlogAtEnd), 9)}${pad(String(t.publishErrors), 8)}${cpuColumns(t.cpu, t.cpuPerMessageUs)}`,
        );
      }
    }
  }
  if (config.phases.includes('latency')) {
    lines.push(
      '',
      `  latency at ${formatRate(config.rate)} msg/s (ms from the intended send time; snd = from the actual send, without the generator's ≤ 1 ms timer lag; pub p99 = publish→confirm; µs/msg = server CPU per message)`,
    );
    lines.push(`  ${pad('broker', width, true)}${pad('run', 4)}${pad('p50', 7)}${pad('p90', 7)}${pad('p99', 7)}${pad('p99.9', 7)}${pad('max', 7)}${pad('snd p50', 9)}${pad('snd p99', 9)}${pad('pub p99', 9)}${pad('lost', 6)}${CPU_HEADER}`);
    for (const broker of report.brokers) {
      for (const run of broker.runs) {
        const l = run.latency;
        const m = l.latencyMs;
        lines.push(
          `  ${pad(broker.name, width, true)}${pad(String(run.run), 4)}${pad(formatMs(m.p50), 7)}${pad(formatMs(m.p90), 7)}${pad(formatMs(m.p99), 7)}${pad(formatMs(m.p999), 7)}${pad(formatMs(m.max), 7)}` +
            `${pad(formatMs(l.fromSendMs.p50), 9)}${pad(formatMs(l.fromSendMs.p99), 9)}${pad(formatMs(l.publishRttMs.p99), 9)}${pad(String(l.missing + l.publishErrors), 6)}${cpuColumns(l.cpu, l.cpuPerMessageUs)}`,
        );
      }
    }
  }
  return lines;
}

/** How many measured windows the rest of the machine disturbed, as a note under the tables. */
function disturbanceNote(report: BenchReport): string[] {
  let windows = 0;
  let flagged = 0;
  for (const broker of report.brokers) {
    for (const run of broker.runs) {
      const phases = [report.config.phases.includes('throughput') ? run.throughput.cpu : undefined, report.config.phases.includes('latency') ? run.latency.cpu : undefined];
      for (const cpu of phases) {
        if (cpu === undefined) continue;
        windows++;
        if (disturbed(cpu)) flagged++;
      }
    }
  }
  if (flagged === 0) return [];
  return ['', `  ! ${flagged} of ${windows} measured windows were disturbed: the rest of the machine (other programs, or the idle brokers' background work) used more than ${DISTURBED_OTHER_CORES} of a core; their figures are lower (msg/s) or higher (latency) than on a quiet machine`];
}

function cell(metric: MetricDescription, value: number | undefined, ratioValue: number | null | undefined, withRatio: boolean): string {
  if (value === undefined) return pad('-', withRatio ? 19 : 11);
  const text = formatMetric(metric, value);
  return withRatio ? pad(`${text} (${formatRatio(ratioValue ?? null)})`, 19) : pad(text, 11);
}

function spreadTables(report: BenchReport): string[] {
  const comparison = report.comparison;
  const withRatio = comparison !== undefined;
  const width = nameWidth(report);
  const lines: string[] = [''];
  lines.push(
    withRatio
      ? '  min / median / max over runs, each with its ratio to the best peer\'s same figure (throughput: above 1× beats it; latency and CPU: below 1× beats it)'
      : '  min / median / max over runs',
  );
  const columns = withRatio ? 19 : 11;
  const metrics = metricsFor(report.config.phases);
  const title = (metric: MetricDescription) => metric.label + (metric.phase === 'latency' && metric.format === 'ms' ? ` @${formatRate(report.config.rate)}/s` : '');
  const first = Math.max(width + 2, ...metrics.map((metric) => title(metric).length + 1));
  for (const metric of metrics) {
    lines.push(`  ${pad(title(metric), first, true)}${pad('min', columns)}${pad('median', columns)}${pad('max', columns)}`);
    for (const broker of report.brokers) {
      const figures: Spread | undefined = broker.summary?.[metric.key];
      const ratios = comparison?.ratios[broker.name]?.[metric.key];
      lines.push(
        `    ${pad(broker.name, first - 2, true)}${cell(metric, figures?.min, ratios?.min, withRatio)}${cell(metric, figures?.median, ratios?.median, withRatio)}${cell(metric, figures?.max, ratios?.max, withRatio)}`,
      );
    }
  }
  return lines;
}

function met(value: boolean | undefined): string {
  return value === true ? 'met' : 'NOT met';
}

function bestPeerText(comparison: Comparison, key: keyof Summary, metric: MetricDescription | undefined): string {
  const best = comparison.bestPeer[key]?.median;
  if (best === undefined || metric === undefined) return 'no peer figure';
  return `best peer ${best.broker} ${formatMetric(metric, best.value)}`;
}

/** The verdict against issue 8's ratio targets (peers measured). */
function ratioVerdictLines(report: BenchReport): string[] {
  const comparison = report.comparison!;
  const targets = report.ratioTargets!;
  const summary = report.summary;
  const ours = comparison.ratios[report.brokers[0]!.name] ?? {};
  const metric = (key: keyof Summary) => METRIC_BY_KEY.get(key);
  const lines = ['', '  targets (issue 8; medians, as ratios to the best peer of this run):'];
  const phases = report.config.phases;
  if (phases.includes('throughput')) {
    lines.push(
      `    end-to-end ${formatRate(summary.consumedPerSecond.median)} msg/s = ${formatRatio(ours.consumedPerSecond?.median ?? null)} the ${bestPeerText(comparison, 'consumedPerSecond', metric('consumedPerSecond'))} msg/s; target ≥ ${targets.minThroughputRatio}×: ${met(report.verdict.throughputMet)}`,
    );
  }
  if (phases.includes('latency')) {
    lines.push(
      `    latency p99 ${formatMs(summary.latencyP99Ms.median)} ms = ${formatRatio(ours.latencyP99Ms?.median ?? null)} the ${bestPeerText(comparison, 'latencyP99Ms', metric('latencyP99Ms'))} ms; target ≤ ${targets.maxP99Ratio}×: ${met(report.verdict.p99Met)}`,
    );
    if (targets.maxP50Ratio !== undefined) {
      lines.push(
        `    latency p50 ${formatMs(summary.latencyP50Ms.median)} ms = ${formatRatio(ours.latencyP50Ms?.median ?? null)} the ${bestPeerText(comparison, 'latencyP50Ms', metric('latencyP50Ms'))} ms; target ≤ ${targets.maxP50Ratio}×: ${met(report.verdict.p50Met)}`,
      );
    }
  }
  if (phases.includes('throughput') && targets.maxCpuUsPerMessage !== undefined) {
    lines.push(
      `    server CPU ${formatUs(summary.throughputCpuUsPerMessage?.median)} µs/msg at full throughput (${bestPeerText(comparison, 'throughputCpuUsPerMessage', metric('throughputCpuUsPerMessage'))} µs); target ≤ ${targets.maxCpuUsPerMessage} µs: ${met(report.verdict.cpuMet)}`,
    );
  }
  return lines;
}

function referenceText(references: Reference[], pick: (ref: Reference) => number | undefined, format: (v: number) => string, value?: number): string {
  return references
    .filter((ref) => pick(ref) !== undefined)
    .map((ref) => `${value === undefined ? '' : `${formatRatio(value / pick(ref)!)} `}${ref.name} ${format(pick(ref)!)}`)
    .join(', ');
}

/** The verdict on absolute targets, with reference figures from other days (no peer measured). */
function absoluteVerdictLines(report: BenchReport): string[] {
  const { summary, targets, verdict } = report;
  const references = report.references ?? [];
  const lines = [''];
  const phases = report.config.phases;
  const throughputRefs = references.filter((r) => r.msgPerSecond !== undefined);
  const latencyRefs = references.filter((r) => r.p99Ms !== undefined);
  if (phases.includes('throughput')) {
    const value = summary.consumedPerSecond.median;
    const refs = throughputRefs.length > 0 ? `peers not measured in this run: ${referenceText(throughputRefs, (r) => r.msgPerSecond, formatRate, value)}; ` : '';
    lines.push(`  end-to-end ${formatRate(value)} msg/s (${refs}target ≥ ${formatRate(targets.minMsgPerSecond)}: ${met(verdict.throughputMet)})`);
  }
  if (phases.includes('latency')) {
    const refs = latencyRefs.length > 0 ? `peers not measured in this run: p99 ${referenceText(latencyRefs, (r) => r.p99Ms, formatMs)} ms; ` : '';
    lines.push(`  latency p99 ${formatMs(summary.latencyP99Ms.median)} ms, p50 ${formatMs(summary.latencyP50Ms.median)} ms at ${formatRate(report.config.rate)} msg/s (${refs}target p99 ≤ ${targets.maxP99Ms} ms: ${met(verdict.p99Met)})`);
  }
  const sources: string[] = [];
  if (phases.includes('throughput') && throughputRefs.length > 0) sources.push(`peer msg/s from ${throughputRefs[0]!.source}`);
  if (phases.includes('latency') && latencyRefs.length > 0) sources.push(`peer p99 from ${latencyRefs[0]!.source}`);
  if (sources.length > 0) lines.push(`  (${sources.join('; ')}: only ratios from one run compare; run with --peers to measure the peers now)`);
  return lines;
}

const METRIC_BY_KEY = new Map(metricsFor(['throughput', 'latency']).map((metric) => [metric.key, metric]));

/** The human-readable report (what `npm run bench` prints). */
export function formatReport(report: BenchReport): string {
  const lines = [...setupLines(report), ...runTables(report), ...disturbanceNote(report), ...spreadTables(report), ...idleStreamLines(report)];
  lines.push(...(report.comparison !== undefined && report.ratioTargets !== undefined ? ratioVerdictLines(report) : absoluteVerdictLines(report)));
  return lines.join('\n');
}

function idleStreamLines(report: BenchReport): string[] {
  const idle = report.idleStreams;
  if (idle === undefined) return [];
  const cores = (value: number | undefined) => (value === undefined ? '?' : value.toFixed(3));
  return [
    '',
    `  idle streams: ${idle.opened} of ${idle.streams} open on one queue; mombroker used ${cores(idle.baselineCores)} cores without them, ${cores(idle.withStreamsCores)} with them` +
      ` over ${idle.seconds} s (${idle.microCoresPerStream ?? '?'} millionths of a core per stream)`,
  ];
}
