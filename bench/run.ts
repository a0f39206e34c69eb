/**
 * `npm run bench [-- options]`: starts a broker (or a local cluster) in other processes,
 * drives it through the SDK over loopback HTTP, and reports end-to-end throughput and
 * publish→consume latency at a fixed rate, as min/median/max over runs.
 *
 * Each run: a throughput phase (fresh queue; producers with N publishes in flight,
 * consumers pulling and acking in batches) then a latency phase (fresh queue; a timer
 * publishing at --rate msg/s). The broker is started once for all runs.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isMomClientError, type Connection } from '../src/client';
import { clusterScriptAvailable, REPO_ROOT, startBrokerUnderTest, type BrokerUnderTest } from './broker-under-test';
import { runLatency } from './latency';
import { formatProfileSummary, readProfile, summarizeProfile, type ProfileSummary } from './profile-summary';
import {
  CLUSTER_REFERENCES,
  CLUSTER_TARGETS,
  formatMs,
  formatRate,
  formatReport,
  judge,
  SINGLE_NODE_REFERENCES,
  SINGLE_NODE_TARGETS,
  summarize,
  writeJson,
  type BenchConfig,
  type BenchReport,
  type RunResult,
  type WorkloadSettings,
} from './report';
import { runThroughput } from './throughput';
import { loginAt, makePayload, openConnection } from './workload';

const USAGE = `usage: npm run bench -- [options]

  --runs N              runs (default 3)
  --seconds S           measured seconds per phase and run (default 10)
  --warmup S            warm-up seconds before each measurement (default 2)
  --settle S            idle seconds between the throughput and the latency phase, so the
                        broker's background compaction of the throughput phase's messages
                        does not land in the latency window (default 6)
  --quick               1 run of 2 s after 0.5 s warm-up, no settle (smoke test)
  --producers N         throughput producers, one SDK connection each (default 4)
  --consumers N         throughput consumers, one SDK connection each (default 4)
  --in-flight N         publishes outstanding per producer (default 64)
  --pull-max N          messages per pull (default 100)
  --max-backlog N       producers wait while N messages are unacked (default 5000; 0 = no bound)
  --rate R              latency phase publish rate, msg/s (default 2000)
  --latency-consumers N consumers in the latency phase (default 2)
  --payload-bytes N     serialized payload size (default 1024)
  --fsync POLICY        batch (default) | always | never
  --cluster N           a local N-node cluster via scripts/cluster.sh, through its gateway
  --only PHASE          throughput | latency (default both)
  --out FILE            JSON results (default bench-results.json)
  --cpu-prof            run the broker with node --cpu-prof and print its hottest functions
  --cpu-prof-dir DIR    where the .cpuprofile files go (default a new temp dir)
  --verbose             echo the broker's log lines
  --help
`;

export interface BenchOptions extends WorkloadSettings {
  cluster: number;
  only: 'both' | 'throughput' | 'latency';
  out: string;
  cpuProf: boolean;
  cpuProfDir: string | undefined;
  verbose: boolean;
}

class UsageError extends Error {}

function integer(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) throw new UsageError(`--${name}: expected an integer within ${min}..${max}, got ${JSON.stringify(value)}`);
  return parsed;
}

function positiveNumber(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < min || parsed > max) throw new UsageError(`--${name}: expected a number within ${min}..${max}, got ${JSON.stringify(value)}`);
  return parsed;
}

export function parseBenchArgs(argv: string[]): BenchOptions | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      runs: { type: 'string' },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      settle: { type: 'string' },
      quick: { type: 'boolean' },
      producers: { type: 'string' },
      consumers: { type: 'string' },
      'in-flight': { type: 'string' },
      'pull-max': { type: 'string' },
      'max-backlog': { type: 'string' },
      rate: { type: 'string' },
      'latency-consumers': { type: 'string' },
      'payload-bytes': { type: 'string' },
      fsync: { type: 'string' },
      cluster: { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      'cpu-prof-dir': { type: 'string' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const quick = values.quick === true;
  const fsync = values.fsync ?? 'batch';
  if (fsync !== 'batch' && fsync !== 'always' && fsync !== 'never') throw new UsageError(`--fsync: expected batch, always or never, got ${JSON.stringify(fsync)}`);
  const only = values.only ?? 'both';
  if (only !== 'both' && only !== 'throughput' && only !== 'latency') throw new UsageError(`--only: expected throughput or latency, got ${JSON.stringify(only)}`);
  const cluster = integer('cluster', values.cluster, 0, 0, 9);
  if (cluster === 1) throw new UsageError('--cluster: a cluster needs at least 2 nodes (leave it out for the single-node broker)');
  return {
    runs: integer('runs', values.runs, quick ? 1 : 3, 1, 100),
    seconds: positiveNumber('seconds', values.seconds, quick ? 2 : 10, 1, 3600),
    warmupSeconds: positiveNumber('warmup', values.warmup, quick ? 0.5 : 2, 0, 600),
    settleSeconds: positiveNumber('settle', values.settle, quick ? 0 : 6, 0, 600),
    producers: integer('producers', values.producers, 4, 1, 256),
    consumers: integer('consumers', values.consumers, 4, 1, 256),
    inFlight: integer('in-flight', values['in-flight'], 64, 1, 100_000),
    pullMax: integer('pull-max', values['pull-max'], 100, 1, 1000),
    maxBacklog: integer('max-backlog', values['max-backlog'], 5000, 0, 100_000_000),
    rate: integer('rate', values.rate, 2000, 1, 1_000_000),
    latencyConsumers: integer('latency-consumers', values['latency-consumers'], 2, 1, 64),
    payloadBytes: integer('payload-bytes', values['payload-bytes'], 1024, 2, 512 * 1024),
    fsync,
    cluster,
    only,
    out: values.out ?? 'bench-results.json',
    cpuProf: values['cpu-prof'] === true || values['cpu-prof-dir'] !== undefined,
    cpuProfDir: values['cpu-prof-dir'],
    verbose: values.verbose === true,
  };
}

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

function emptyThroughput(): RunResult['throughput'] {
  return { queue: '', windowSeconds: 0, published: 0, consumed: 0, publishedPerSecond: 0, consumedPerSecond: 0, backlogAtEnd: 0, publishErrors: 0, publishRequests: 0, consumerRequests: 0, consumedTimeline: [] };
}

function emptyLatency(): RunResult['latency'] {
  const zero = { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  return { queue: '', achievedRate: 0, sentInWindow: 0, received: 0, missing: 0, publishErrors: 0, latencyMs: zero, publishRttMs: { p50: 0, p99: 0, max: 0 }, requestsPerSecond: 0, generatorLagMs: { p99: 0, max: 0 } };
}

export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const mode = options.cluster >= 2 ? 'cluster' : 'single';
  if (mode === 'cluster' && !clusterScriptAvailable()) throw new UsageError('--cluster: scripts/cluster.sh is not there yet');
  const startedAt = new Date().toISOString();
  const loadAverageBefore = loadavg();
  const cpuProfileDir = options.cpuProf ? (options.cpuProfDir ?? mkdtempSync(join(tmpdir(), 'mom-bench-profile-'))) : undefined;
  const payload = makePayload(options.payloadBytes);
  const measureMs = options.seconds * 1000;
  const warmupMs = options.warmupSeconds * 1000;

  progress(mode === 'single' ? `starting mombroker --role all (fsync=${options.fsync})` : `starting a ${options.cluster}-node cluster (scripts/cluster.sh up)`);
  const broker = await startBrokerUnderTest({
    nodes: options.cluster,
    fsync: options.fsync,
    cpuProfileDir,
    onOutput: options.verbose ? (line) => process.stderr.write(`broker: ${line}\n`) : undefined,
  });
  progress(`broker at ${broker.url} (pids ${broker.pids.join(', ') || 'unknown'})`);
  const runs: RunResult[] = [];
  try {
    const admin = await connectAdmin(broker);
    try {
      for (let run = 1; run <= options.runs; run++) {
        let throughput = emptyThroughput();
        if (options.only !== 'latency') {
          progress(`run ${run}/${options.runs}: throughput, ${options.seconds} s`);
          throughput = await runThroughput({
            target: broker,
            admin,
            exchange: EXCHANGE,
            producers: options.producers,
            consumers: options.consumers,
            inFlight: options.inFlight,
            pullMax: options.pullMax,
            maxBacklog: options.maxBacklog,
            pullWaitMs: PULL_WAIT_MS,
            payload,
            warmupMs,
            measureMs,
            brokerPids: broker.pids,
          });
          const cpu = throughput.cpu ? `; cores used: broker ${throughput.cpu.broker}, generator ${throughput.cpu.generator}, other ${throughput.cpu.other}` : '';
          const batch = throughput.publishRequests > 0 ? (throughput.published / throughput.publishRequests).toFixed(1) : '-';
          progress(`  consumed ${formatRate(throughput.consumedPerSecond)} msg/s, published ${formatRate(throughput.publishedPerSecond)} msg/s (${batch} per request), backlog ${throughput.backlogAtEnd}${cpu}`);
        }
        let latency = emptyLatency();
        if (options.only !== 'throughput') {
          if (options.only === 'both' && options.settleSeconds > 0) {
            progress(`  settling ${options.settleSeconds} s`);
            await new Promise((r) => setTimeout(r, options.settleSeconds * 1000));
          }
          progress(`run ${run}/${options.runs}: latency at ${options.rate} msg/s, ${options.seconds} s`);
          latency = await runLatency({
            target: broker,
            admin,
            exchange: EXCHANGE,
            rate: options.rate,
            consumers: options.latencyConsumers,
            pullMax: options.pullMax,
            pullWaitMs: PULL_WAIT_MS,
            payload,
            warmupMs,
            measureMs,
            brokerPids: broker.pids,
          });
          const cpu = latency.cpu ? `; cores used: broker ${latency.cpu.broker}, generator ${latency.cpu.generator}, other ${latency.cpu.other}` : '';
          progress(
            `  p50 ${formatMs(latency.latencyMs.p50)} ms, p99 ${formatMs(latency.latencyMs.p99)} ms, max ${formatMs(latency.latencyMs.max)} ms (${latency.latencyMs.count} samples); ` +
              `publish answered p50 ${formatMs(latency.publishRttMs.p50)} p99 ${formatMs(latency.publishRttMs.p99)} ms; ${formatRate(latency.requestsPerSecond)} requests/s${cpu}`,
          );
        }
        runs.push({ run, throughput, latency });
      }
    } finally {
      await admin.close();
    }
  } catch (error) {
    process.stderr.write(`bench: failed; the broker's last output:\n${broker.recentOutput().slice(-4000)}\n`);
    throw error;
  } finally {
    progress('stopping the broker');
    await broker.close();
  }

  const { cluster, only, out, cpuProf, cpuProfDir, verbose, ...workload } = options;
  const config: BenchConfig = {
    mode,
    nodes: mode === 'single' ? 1 : cluster,
    ...workload,
    pullWaitMs: PULL_WAIT_MS,
    acks: 'all',
    replicationFactor: mode === 'single' ? 1 : Math.min(3, cluster),
    phases: only === 'both' ? ['throughput', 'latency'] : [only],
  };
  const targets = mode === 'single' ? SINGLE_NODE_TARGETS : CLUSTER_TARGETS;
  const summary = summarize(runs);
  const report: BenchReport = {
    benchmark: 'mombroker',
    startedAt,
    finishedAt: new Date().toISOString(),
    config,
    environment: {
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      loadAverageBefore,
      loadAverageAfter: loadavg(),
      dataFilesystem: broker.filesystem,
      brokerUrl: broker.url,
      brokerPids: broker.pids,
      source: sourceVersion(),
    },
    targets,
    references: mode === 'single' ? SINGLE_NODE_REFERENCES : CLUSTER_REFERENCES,
    summary,
    verdict: judge(summary, targets),
    runs,
  };
  if (cpuProfileDir !== undefined) report.profile = summarizeProfiles(cpuProfileDir, broker.processNames);
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
