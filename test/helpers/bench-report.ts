/** Report fixtures for the pure report tests: runs with chosen figures, nothing measured. */
import type { BenchConfig, BenchReport, BrokerResult, RunResult } from '../../bench/report';
import { summarize, SINGLE_NODE_TARGETS, judge } from '../../bench/report';

export function fakeRun(run: number, figures: { msgs: number; p50: number; p99: number; max: number; cpuUs?: number; latencyCpuUs?: number }): RunResult {
  return {
    run,
    throughput: {
      queue: 'q',
      windowSeconds: 10,
      published: figures.msgs * 10,
      consumed: figures.msgs * 10,
      publishedPerSecond: figures.msgs,
      consumedPerSecond: figures.msgs,
      backlogAtEnd: 0,
      publishErrors: 0,
      consumedTimeline: [],
      cpuPerMessageUs: figures.cpuUs,
    },
    latency: {
      queue: 'l',
      achievedRate: 2_000,
      sentInWindow: 20_000,
      received: 20_000,
      missing: 0,
      publishErrors: 0,
      latencyMs: { count: 20_000, mean: figures.p50, p50: figures.p50, p90: figures.p99, p99: figures.p99, p999: figures.max, max: figures.max },
      fromSendMs: { p50: figures.p50, p99: figures.p99, max: figures.max },
      publishRttMs: { p50: 1, p99: 2, max: 3 },
      sendLagMs: { p50: 0, p99: 0.1, max: 0.2 },
      cpuPerMessageUs: figures.latencyCpuUs,
    },
  };
}

export function fakeBroker(name: string, peer: boolean, runs: RunResult[]): BrokerResult {
  return { name, peer, description: `${name} as measured`, runs, summary: summarize(runs) };
}

export function fakeReport(brokers: BrokerResult[]): BenchReport {
  const config: BenchConfig = {
    mode: 'single',
    nodes: 1,
    runs: 3,
    seconds: 10,
    warmupSeconds: 2,
    settleSeconds: 6,
    producers: 4,
    consumers: 4,
    latencyConsumers: 1,
    inFlight: 64,
    pullMax: 100,
    maxUnconfirmed: 500,
    maxBacklog: 5_000,
    payloadBytes: 1024,
    rate: 2_000,
    fsync: 'batch',
    pullWaitMs: 1_000,
    acks: 'all',
    replicationFactor: 1,
    phases: ['throughput', 'latency'],
    peers: brokers.some((b) => b.peer),
  };
  const summary = brokers[0]!.summary!;
  return {
    benchmark: 'mombroker',
    startedAt: '2026-12-03T00:00:00Z',
    finishedAt: '2026-12-03T00:05:00Z',
    config,
    environment: {
      node: 'v20',
      platform: 'linux x64',
      cpus: 2,
      cpuModel: 'test',
      loadAverageBefore: [0, 0, 0],
      loadAverageAfter: [0, 0, 0],
      dataFilesystem: { type: '0xef53', fsyncIsReal: true },
      brokerUrl: 'http://127.0.0.1:1',
      brokerPids: [1],
    },
    summary,
    runs: brokers[0]!.runs,
    brokers,
    targets: SINGLE_NODE_TARGETS,
    verdict: judge(summary, SINGLE_NODE_TARGETS),
  };
}
