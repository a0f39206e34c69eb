/**
 * `npm run bench [-- options]`: starts a broker (or a local cluster) in other processes,
 * drives it through the SDK over loopback HTTP, and reports end-to-end throughput and
 * publish→consume latency at a fixed rate, as min/median/max over runs. With `--peers` it
 * also starts RabbitMQ and NATS JetStream on loopback (peers/), drives them with the same
 * workload code (drivers/), and prints every figure as a ratio to the best peer of the run.
 *
 * Each run: for every broker in turn (interleaved, so the machine's drift weighs on all of
 * them alike), a throughput phase (fresh queue; producers with N publishes in flight,
 * consumers acking) and a latency phase (fresh queue; one producer at --rate msg/s, at most
 * --max-unconfirmed unconfirmed, one consumer; latency from the intended send time). Every
 * server is started once for all runs.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMomClientError, type Connection } from '../src/client';
import { clusterScriptAvailable, REPO_ROOT, startBrokerUnderTest, type BrokerUnderTest } from './broker-under-test';
import type { BenchDriver } from '../src/loadgen/driver';
import { mombrokerDriver } from '../src/loadgen/mombroker-driver';
import { runLatency, type LatencyResult } from '../src/loadgen/latency';
import { startPeers, type PeerSet } from './peers/peers';
import { interrupted } from './processes';
import { formatTail, tailWindow } from './tail-report';
import { parseBenchArgs, USAGE, UsageError, type BenchOptions } from './options';
import { formatProfileSummary, readProfile, summarizeProfile, type ProfileSummary } from './profile-summary';
import {
  CLUSTER_RATIO_TARGETS,
  CLUSTER_REFERENCES,
  CLUSTER_TARGETS,
  compareBrokers,
  judge,
  judgeRatios,
  SINGLE_NODE_RATIO_TARGETS,
  SINGLE_NODE_REFERENCES,
  SINGLE_NODE_TARGETS,
  summarize,
  writeJson,
  type BenchConfig,
  type BenchReport,
  type BrokerResult,
  type RunResult,
} from './report';
import { formatMs, formatRate, formatReport, formatUs } from './report-format';
import { runIdleStreams, type IdleStreamsResult } from '../src/loadgen/idle-streams';
import { runThroughput, type ThroughputResult } from '../src/loadgen/throughput';
import { loginAt, openConnection } from '../src/loadgen/workload';

const EXCHANGE = 'bench';
const PULL_WAIT_MS = 1_000;

function progress(text: string): void {
  process.stderr.write(`bench: ${text}\n`);
}

/** Runs until the broker answers the first login and declare (a cluster may still be electing). */
async function connectAdmin(broker: BrokerUnderTest): Promise<Connection> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      let admin: Connection;
      try {
        admin = await openConnection(broker, 4);
      } catch (error) {
        // A gateway that does not route POST /auth: log in at the auth role, use its token.
        if (!(isMomClientError(error) && error.status === 404 && broker.authUrl !== undefined && broker.token === undefined)) throw error;
        progress(`the gateway answered 404 to POST /auth; logging in at the auth role ${broker.authUrl} instead`);
        broker.token = await loginAt(broker.authUrl, broker.user, broker.password);
        admin = await openConnection(broker, 4);
      }
      await admin.declareExchange(EXCHANGE);
      return admin;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

function emptyThroughput(): ThroughputResult {
  return { queue: '', windowSeconds: 0, published: 0, consumed: 0, publishedPerSecond: 0, consumedPerSecond: 0, backlogAtEnd: 0, publishErrors: 0, consumedTimeline: [] };
}

function emptyLatency(): LatencyResult {
  const zero = { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  return { queue: '', achievedRate: 0, sentInWindow: 0, received: 0, missing: 0, publishErrors: 0, latencyMs: zero, fromSendMs: { p50: 0, p99: 0, max: 0 }, publishRttMs: { p50: 0, p99: 0, max: 0 }, sendLagMs: { p50: 0, p99: 0, max: 0 } };
}

function cpuText(cpu: { broker: number; generator: number; other: number } | undefined, perMessageUs: number | undefined): string {
  return cpu === undefined ? '' : `; cores used: server ${cpu.broker}, generator ${cpu.generator}, other ${cpu.other}; server ${formatUs(perMessageUs)} µs/msg`;
}

/** One run of both phases (or the one asked for) against one broker. */
async function measure(driver: BenchDriver, options: BenchOptions, run: number, tail?: ReturnType<typeof tailWindow>): Promise<RunResult> {
  const label = `run ${run}/${options.runs}, ${driver.name}`;
  const warmupMs = options.warmupSeconds * 1000;
  const measureMs = options.seconds * 1000;
  let throughput = emptyThroughput();
  if (options.only !== 'latency') {
    progress(`${label}: throughput, ${options.seconds} s`);
    throughput = await runThroughput({
      driver,
      producers: options.producers,
      consumers: options.consumers,
      inFlight: options.inFlight,
      prefetch: options.pullMax,
      maxBacklog: options.maxBacklog,
      warmupMs,
      measureMs,
    });
    const batch = throughput.publishRequests !== undefined && throughput.publishRequests > 0 ? ` (${(throughput.published / throughput.publishRequests).toFixed(1)} per request)` : '';
    progress(`  consumed ${formatRate(throughput.consumedPerSecond)} msg/s, published ${formatRate(throughput.publishedPerSecond)} msg/s${batch}, backlog ${throughput.backlogAtEnd}${cpuText(throughput.cpu, throughput.cpuPerMessageUs)}`);
  }
  let latency = emptyLatency();
  if (options.only !== 'throughput') {
    if (options.only === 'both' && options.settleSeconds > 0) {
      progress(`  settling ${options.settleSeconds} s`);
      await new Promise((r) => setTimeout(r, options.settleSeconds * 1000));
    }
    progress(`${label}: latency at ${options.rate} msg/s, ${options.seconds} s`);
    latency = await runLatency({
      driver,
      rate: options.rate,
      maxUnconfirmed: options.maxUnconfirmed,
      prefetch: options.pullMax,
      consumers: options.latencyConsumers,
      warmupMs,
      measureMs,
      ...(tail ? { window: tail } : {}),
    });
    const requests = latency.requestsPerSecond === undefined ? '' : `; ${formatRate(latency.requestsPerSecond)} requests/s`;
    progress(
      `  p50 ${formatMs(latency.latencyMs.p50)} ms, p99 ${formatMs(latency.latencyMs.p99)} ms, max ${formatMs(latency.latencyMs.max)} ms (${latency.latencyMs.count} samples, ${latency.missing} missing); ` +
        `from the actual send p50 ${formatMs(latency.fromSendMs.p50)} p99 ${formatMs(latency.fromSendMs.p99)} ms; sent late p50 ${formatMs(latency.sendLagMs.p50)} p99 ${formatMs(latency.sendLagMs.p99)} ms; publish confirmed p99 ${formatMs(latency.publishRttMs.p99)} ms${requests}${cpuText(latency.cpu, latency.cpuPerMessageUs)}`,
    );
  }
  if (tail && options.only !== 'throughput') {
    const probe = await tail.collect();
    progress(`  in the broker: event loop delay p99 ${formatMs(probe.eventLoopDelayMs.p99)} ms, max ${formatMs(probe.eventLoopDelayMs.max)} ms; loop busy ${Math.round(probe.eventLoopUtilization * 100)} %`);
    return { run, throughput, latency, tail: probe };
  }
  return { run, throughput, latency };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const mode = options.cluster >= 2 ? 'cluster' : 'single';
  if (mode === 'cluster' && !clusterScriptAvailable()) throw new UsageError('--cluster: scripts/cluster.sh is not there yet');
  const startedAt = new Date().toISOString();
  const loadAverageBefore = loadavg();
  const cpuProfileDir = options.cpuProf ? (options.cpuProfDir ?? mkdtempSync(join(tmpdir(), 'mom-bench-profile-'))) : undefined;
  const onOutput = options.verbose ? (line: string) => process.stderr.write(`broker: ${line}\n`) : undefined;

  progress(mode === 'single' ? `starting mombroker --role all (fsync=${options.fsync})` : `starting a ${options.cluster}-node cluster (scripts/cluster.sh up)`);
  const tailProbeDir = options.tail ? mkdtempSync(join(tmpdir(), 'mom-bench-tail-')) : undefined;
  const broker = await startBrokerUnderTest({ nodes: options.cluster, fsync: options.fsync, cpuProfileDir, onOutput, ...(tailProbeDir !== undefined ? { tailProbeDir } : {}) });
  progress(`broker at ${broker.url} (pids ${broker.pids.join(', ') || 'unknown'})`);
  let peers: PeerSet | undefined;
  const results: Array<BrokerResult & { driver: BenchDriver }> = [];
  let idleStreams: IdleStreamsResult | undefined;
  try {
    const admin = await connectAdmin(broker);
    try {
      const ours = mombrokerDriver({
        target: broker,
        admin,
        exchange: EXCHANGE,
        payloadBytes: options.payloadBytes,
        pullWaitMs: PULL_WAIT_MS,
        pull: options.pull,
        ...(options.direct && mode === 'cluster' ? { direct: true } : {}),
        pids: () => broker.pids,
        description:
          (mode === 'single'
            ? `--role all, fsync=${options.fsync}; SDK over HTTP; `
            : `${options.cluster} nodes, RF=${Math.min(3, options.cluster)}, acks=all, fsync=${options.fsync}${options.direct ? '' : ', through the gateway'}; SDK over HTTP; `) +
          (options.pull ? 'consumers pull (long poll)' : 'consumers stream (server push)') +
          (options.direct && mode === 'cluster' ? '; clients talk to the partition leaders directly' : ''),
      });
      results.push({ name: ours.name, peer: false, description: ours.description, runs: [], driver: ours });
      if (options.peers) {
        peers = await startPeers({ cluster: options.cluster, payloadBytes: options.payloadBytes, progress, onOutput });
        for (const driver of peers.drivers) results.push({ name: driver.name, peer: true, description: driver.description, runs: [], driver });
      }
      for (let run = 1; run <= options.runs; run++) {
        for (const result of results) {
          if (result.error !== undefined) continue;
          const signal = interrupted();
          if (signal !== undefined) throw new Error(`interrupted by ${signal}`);
          try {
            const tail = tailProbeDir !== undefined && !result.peer ? tailWindow(tailProbeDir, broker.pids[0]!) : undefined;
            result.runs.push(await measure(result.driver, options, run, tail));
          } catch (error) {
            if (!result.peer || interrupted() !== undefined) throw error;
            result.error = errorText(error);
            progress(`${result.name} failed and is left out of the remaining runs: ${result.error}`);
          }
        }
      }
      if (options.idleStreams > 0) {
        const seconds = Math.max(2, Math.min(10, options.seconds));
        progress(`idle streams: mombroker's CPU for ${seconds} s without streams, then with ${options.idleStreams} idle streams open`);
        idleStreams = await runIdleStreams({
          target: broker,
          admin,
          exchange: EXCHANGE,
          token: broker.token ?? (await loginAt(broker.url, broker.user, broker.password)),
          streams: options.idleStreams,
          seconds,
          brokerPids: () => broker.pids,
        });
        progress(`  ${idleStreams.opened} of ${idleStreams.streams} open: ${idleStreams.baselineCores ?? '?'} cores without, ${idleStreams.withStreamsCores ?? '?'} with (${idleStreams.microCoresPerStream ?? '?'} µcores per stream)`);
      }
    } finally {
      await admin.close();
    }
  } catch (error) {
    process.stderr.write(`bench: failed; the broker's last output:\n${broker.recentOutput().slice(-4000)}\n`);
    throw error;
  } finally {
    if (peers !== undefined) {
      progress('stopping the peers');
      await peers.close();
    }
    progress('stopping the broker');
    await broker.close();
    if (tailProbeDir !== undefined) rmSync(tailProbeDir, { recursive: true, force: true });
  }
  const report = buildReport(options, { mode, startedAt, loadAverageBefore, broker, peers, results, cpuProfileDir });
  if (idleStreams !== undefined) report.idleStreams = idleStreams;
  return report;
}

function buildReport(
  options: BenchOptions,
  context: { mode: 'single' | 'cluster'; startedAt: string; loadAverageBefore: number[]; broker: BrokerUnderTest; peers: PeerSet | undefined; results: Array<BrokerResult & { driver: BenchDriver }>; cpuProfileDir: string | undefined },
): BenchReport {
  const { mode, broker, peers } = context;
  const { cluster, only, out, cpuProf, cpuProfDir, verbose, peers: withPeers, ...workload } = options;
  const config: BenchConfig = {
    mode,
    nodes: mode === 'single' ? 1 : cluster,
    ...workload,
    pullWaitMs: PULL_WAIT_MS,
    acks: 'all',
    replicationFactor: mode === 'single' ? 1 : Math.min(3, cluster),
    phases: only === 'both' ? ['throughput', 'latency'] : [only],
    peers: withPeers,
  };
  const brokers: BrokerResult[] = context.results.map(({ driver, ...result }) => (result.runs.length > 0 ? { ...result, summary: summarize(result.runs) } : result));
  const ours = brokers[0]!;
  const summary = ours.summary!;
  const targets = mode === 'single' ? SINGLE_NODE_TARGETS : CLUSTER_TARGETS;
  const peersMeasured = brokers.some((b) => b.peer && b.summary !== undefined);
  const report: BenchReport = {
    benchmark: 'mombroker',
    startedAt: context.startedAt,
    finishedAt: new Date().toISOString(),
    config,
    environment: {
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      loadAverageBefore: context.loadAverageBefore,
      loadAverageAfter: loadavg(),
      dataFilesystem: broker.filesystem,
      brokerUrl: broker.url,
      brokerPids: broker.pids,
      source: sourceVersion(),
    },
    summary,
    runs: ours.runs,
    brokers,
    targets,
    verdict: judge(summary, targets),
  };
  if (peers !== undefined) report.peers = { servers: peers.servers, failed: peers.failed };
  if (peersMeasured) {
    const comparison = compareBrokers(brokers, config.phases);
    const ratioTargets = mode === 'single' ? SINGLE_NODE_RATIO_TARGETS : CLUSTER_RATIO_TARGETS;
    report.comparison = comparison;
    report.ratioTargets = ratioTargets;
    report.verdict = judgeRatios(comparison, ours.name, summary, ratioTargets);
  } else {
    report.references = mode === 'single' ? SINGLE_NODE_REFERENCES : CLUSTER_REFERENCES;
  }
  if (context.cpuProfileDir !== undefined) report.profile = summarizeProfiles(context.cpuProfileDir, broker.processNames);
  return report;
}

/** One summary per profile written (`CPU.<date>.<time>.<pid>.<n>.<seq>.cpuprofile`), named by process. */
/** The commit measured, and whether src/ had uncommitted changes (they are in the build too). */
function sourceVersion(): { commit: string; uncommittedSrcChanges: boolean } | undefined {
  const git = (args: string[]) => spawnSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 10_000 });
  const head = git(['rev-parse', 'HEAD']);
  if (head.status !== 0) return undefined;
  const status = git(['status', '--porcelain', '--', 'src']);
  return { commit: head.stdout.trim(), uncommittedSrcChanges: status.stdout.trim() !== '' };
}

function summarizeProfiles(dir: string, names: Record<number, string>): { dir: string; profiles: Array<ProfileSummary & { process: string }> } {
  const files = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'));
  const profiles = files.map((name) => {
    const pid = Number(name.split('.')[3]);
    return { ...summarizeProfile(readProfile(join(dir, name)), { top: 25 }), file: join(dir, name), process: names[pid] ?? `pid ${pid}` };
  });
  // The busiest first: on a cluster, the leader nodes and the gateway.
  profiles.sort((a, b) => b.busyMs - a.busyMs);
  return { dir, profiles };
}

async function main(argv: string[]): Promise<number> {
  let options: BenchOptions | 'help';
  try {
    options = parseBenchArgs(argv);
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  let report: BenchReport;
  try {
    report = await runBench(options);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`bench: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
  process.stdout.write(formatReport(report) + '\n');
  const profile = report.profile as { dir: string; profiles: Array<ProfileSummary & { process: string }> } | undefined;
  if (profile !== undefined) {
    process.stdout.write(`\nbroker CPU profiles in ${profile.dir}:\n`);
    for (const summary of profile.profiles) process.stdout.write(`[${summary.process}] ${formatProfileSummary(summary)}\n`);
  }
  const tails = report.brokers.flatMap((broker) => broker.runs.flatMap((run) => (run.tail ? [run.tail] : [])));
  if (tails.length > 0) process.stdout.write(`\n${formatTail(tails)}\n`);
  writeJson(options.out, report);
  process.stdout.write(`\nresults written to ${options.out}\n`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`bench: ${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
