/**
 * The benchmark's results: per broker, min/median/max over runs; with peers measured in the
 * same run, every figure's ratio to the best peer's same figure (compare.ts) and the verdict
 * on issue 8's ratio targets; without peers, the reference figures below, labelled as not
 * measured in this run, and absolute targets. Everything here is pure except writeJson();
 * report-format.ts prints it.
 */
import type { TailProbeReport } from './tail-probe';
import type { IdleStreamsResult } from '../src/loadgen/idle-streams';
import { writeFileSync } from 'node:fs';
import type { FsyncPolicy } from './broker-under-test';
import { compareToBestPeer, type BrokerFigures, type Comparison, type MetricSpec } from './compare';
import type { LatencyResult } from '../src/loadgen/latency';
import { spread, type Spread } from '../src/loadgen/stats';
import type { ThroughputResult } from '../src/loadgen/throughput';

/** A figure measured some other day: printed only when the peers were not measured in this run. */
export interface Reference {
  name: string;
  msgPerSecond?: number;
  p50Ms?: number;
  p99Ms?: number;
  /** When and how it was measured. */
  source: string;
  /** Always false: a reference is a figure from another day, not comparable the way a ratio from one run is. */
  measuredInThisRun: false;
}

/** Absolute targets: the verdict when no peer was measured. */
export interface Targets {
  minMsgPerSecond: number;
  maxP99Ms: number;
}

/** Issue 8's targets, as ratios to the best peer of the same run (medians). */
export interface RatioTargets {
  minThroughputRatio: number;
  maxP99Ratio: number;
  maxP50Ratio?: number;
  /** Server CPU per message in the throughput phase, µs. */
  maxCpuUsPerMessage?: number;
}

const THROUGHPUT_SOURCE = 'same machine, 4 producers and 4 consumers, medians of 3 runs, 2026-11';
const LATENCY_SOURCE = 'same machine and latency workload, medians of 3 runs, 2026-12-02 (issue 8)';
const NOT_MEASURED = { measuredInThisRun: false } as const;
export const SINGLE_NODE_REFERENCES: Reference[] = [
  { name: 'RabbitMQ classic', msgPerSecond: 25_000, source: THROUGHPUT_SOURCE, ...NOT_MEASURED },
  { name: 'RabbitMQ quorum', msgPerSecond: 17_500, source: THROUGHPUT_SOURCE, ...NOT_MEASURED },
  { name: 'NATS JetStream R1', msgPerSecond: 20_300, source: THROUGHPUT_SOURCE, ...NOT_MEASURED },
  { name: 'RabbitMQ classic', p50Ms: 1.23, p99Ms: 4.15, source: LATENCY_SOURCE, ...NOT_MEASURED },
  { name: 'NATS JetStream R1', p50Ms: 1.22, p99Ms: 4.7, source: LATENCY_SOURCE, ...NOT_MEASURED },
];
export const CLUSTER_REFERENCES: Reference[] = [
  { name: 'RabbitMQ quorum (3 nodes)', msgPerSecond: 8_600, source: THROUGHPUT_SOURCE, ...NOT_MEASURED },
  { name: 'NATS JetStream R3', msgPerSecond: 9_400, source: THROUGHPUT_SOURCE, ...NOT_MEASURED },
  { name: 'RabbitMQ quorum (3 nodes)', p50Ms: 4.16, p99Ms: 19.98, source: LATENCY_SOURCE, ...NOT_MEASURED },
  { name: 'NATS JetStream R3', p50Ms: 2.9, p99Ms: 38.5, source: LATENCY_SOURCE, ...NOT_MEASURED },
];
export const SINGLE_NODE_TARGETS: Targets = { minMsgPerSecond: 30_000, maxP99Ms: 3 };
export const CLUSTER_TARGETS: Targets = { minMsgPerSecond: 12_000, maxP99Ms: 9 };
export const SINGLE_NODE_RATIO_TARGETS: RatioTargets = { minThroughputRatio: 1.5, maxP99Ratio: 0.75, maxP50Ratio: 1, maxCpuUsPerMessage: 30 };
export const CLUSTER_RATIO_TARGETS: RatioTargets = { minThroughputRatio: 2, maxP99Ratio: 0.75 };

export interface RunResult {
  run: number;
  throughput: ThroughputResult;
  latency: LatencyResult;
  /** With --tail, mombroker's runs: what the probe in the broker saw in the latency window. */
  tail?: TailProbeReport;
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
  /** Messages per pull (mombroker) and prefetch (the peers), in both phases. */
  pullMax: number;
  maxUnconfirmed: number;
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
  peers: boolean;
  /** mombroker's consumers pulled instead of streaming. */
  pull?: boolean;
  /** mombroker's clients talked to the partition leaders, not the gateway. */
  direct?: boolean;
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
  /** Broker CPU per message, µs, in each phase (absent where /proc is not readable). */
  throughputCpuUsPerMessage?: Spread;
  latencyCpuUsPerMessage?: Spread;
}

export interface BrokerResult {
  name: string;
  peer: boolean;
  description: string;
  runs: RunResult[];
  /** Absent when no run completed. */
  summary?: Summary;
  /** The failure after which this broker was left out of the remaining runs. */
  error?: string;
}

export interface Verdict {
  /** `peers`: issue 8's ratio targets against the best peer of this run; `absolute`: fixed figures. */
  basis: 'peers' | 'absolute';
  throughputMet: boolean;
  p99Met: boolean;
  p50Met?: boolean;
  cpuMet?: boolean;
}

export interface PeerInfo {
  servers: Array<{ peer: string; version: string; processes: Record<string, number> }>;
  failed: Array<{ peer: string; error: string }>;
}

export interface BenchReport {
  benchmark: 'mombroker';
  startedAt: string;
  finishedAt: string;
  config: BenchConfig;
  environment: Environment;
  /** mombroker's runs and summary (also in `brokers[0]`). */
  summary: Summary;
  runs: RunResult[];
  /** mombroker first, then the peers measured in this run. */
  brokers: BrokerResult[];
  peers?: PeerInfo;
  /** Ratios to the best peer of this run; present when at least one peer was measured. */
  comparison?: Comparison;
  targets: Targets;
  ratioTargets?: RatioTargets;
  /** Figures from other days, used only when no peer was measured in this run. */
  references?: Reference[];
  verdict: Verdict;
  /** Top self-time functions of the broker, when run with --cpu-prof. */
  profile?: unknown;
  /** mombroker's CPU with N idle streams open against none (--idle-streams). */
  idleStreams?: IdleStreamsResult;
}

function optionalSpread(values: Array<number | undefined>): Spread | undefined {
  const present = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
  return present.length === values.length && present.length > 0 ? spread(present) : undefined;
}

export function summarize(runs: RunResult[]): Summary {
  if (runs.length === 0) throw new RangeError('summarize: no runs');
  const summary: Summary = {
    consumedPerSecond: spread(runs.map((r) => r.throughput.consumedPerSecond)),
    publishedPerSecond: spread(runs.map((r) => r.throughput.publishedPerSecond)),
    latencyP50Ms: spread(runs.map((r) => r.latency.latencyMs.p50)),
    latencyP99Ms: spread(runs.map((r) => r.latency.latencyMs.p99)),
    latencyMaxMs: spread(runs.map((r) => r.latency.latencyMs.max)),
    latencyAchievedRate: spread(runs.map((r) => r.latency.achievedRate)),
  };
  const throughputCpu = optionalSpread(runs.map((r) => r.throughput.cpuPerMessageUs));
  const latencyCpu = optionalSpread(runs.map((r) => r.latency.cpuPerMessageUs));
  if (throughputCpu !== undefined) summary.throughputCpuUsPerMessage = throughputCpu;
  if (latencyCpu !== undefined) summary.latencyCpuUsPerMessage = latencyCpu;
  return summary;
}

export interface MetricDescription extends MetricSpec {
  key: keyof Summary;
  label: string;
  phase: 'throughput' | 'latency';
  format: 'rate' | 'ms' | 'us';
}

/** Every figure the report compares, in the order it prints them. */
export const METRICS: readonly MetricDescription[] = [
  { key: 'consumedPerSecond', label: 'end-to-end (consumed) msg/s', better: 'higher', phase: 'throughput', format: 'rate' },
  { key: 'publishedPerSecond', label: 'published msg/s', better: 'higher', phase: 'throughput', format: 'rate' },
  { key: 'throughputCpuUsPerMessage', label: 'server CPU µs/msg (throughput)', better: 'lower', phase: 'throughput', format: 'us' },
  { key: 'latencyP50Ms', label: 'latency p50 ms', better: 'lower', phase: 'latency', format: 'ms' },
  { key: 'latencyP99Ms', label: 'latency p99 ms', better: 'lower', phase: 'latency', format: 'ms' },
  { key: 'latencyMaxMs', label: 'latency max ms', better: 'lower', phase: 'latency', format: 'ms' },
  { key: 'latencyCpuUsPerMessage', label: 'server CPU µs/msg (latency)', better: 'lower', phase: 'latency', format: 'us' },
];

export function metricsFor(phases: ReadonlyArray<'throughput' | 'latency'>): MetricDescription[] {
  return METRICS.filter((metric) => phases.includes(metric.phase));
}

/** Ratios of every broker's figures to the best peer's, over the metrics of the phases measured. */
export function compareBrokers(brokers: readonly BrokerResult[], phases: ReadonlyArray<'throughput' | 'latency'>): Comparison {
  const figures: BrokerFigures[] = brokers.map((broker) => ({
    name: broker.name,
    peer: broker.peer,
    figures: broker.summary === undefined ? {} : Object.fromEntries(metricsFor(phases).map((m) => [m.key, broker.summary![m.key]])),
  }));
  return compareToBestPeer(figures, metricsFor(phases));
}

/** Absolute targets, judged on the medians. */
export function judge(summary: Summary, targets: Targets): Verdict {
  return {
    basis: 'absolute',
    throughputMet: summary.consumedPerSecond.median >= targets.minMsgPerSecond,
    p99Met: summary.latencyP99Ms.median <= targets.maxP99Ms,
  };
}

/** Issue 8's targets: the ratios of the medians to the best peer's medians, and CPU per message. */
export function judgeRatios(comparison: Comparison, broker: string, summary: Summary, targets: RatioTargets): Verdict {
  const medianRatio = (key: keyof Summary) => comparison.ratios[broker]?.[key]?.median ?? null;
  const throughput = medianRatio('consumedPerSecond');
  const p99 = medianRatio('latencyP99Ms');
  const p50 = medianRatio('latencyP50Ms');
  const verdict: Verdict = {
    basis: 'peers',
    throughputMet: throughput !== null && throughput >= targets.minThroughputRatio,
    p99Met: p99 !== null && p99 <= targets.maxP99Ratio,
  };
  if (targets.maxP50Ratio !== undefined) verdict.p50Met = p50 !== null && p50 <= targets.maxP50Ratio;
  if (targets.maxCpuUsPerMessage !== undefined) {
    const cpu = summary.throughputCpuUsPerMessage?.median;
    verdict.cpuMet = cpu !== undefined && cpu <= targets.maxCpuUsPerMessage;
  }
  return verdict;
}

export function writeJson(path: string, report: BenchReport): void {
  writeFileSync(path, JSON.stringify(report, null, 2) + '\n');
}
