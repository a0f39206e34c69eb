/**
 * `npm run bench`'s command line: the usage text and the options, validated once, with the
 * offending flag named in the message.
 */
import { parseArgs } from 'node:util';
import type { WorkloadSettings } from './report';

export const USAGE = `usage: npm run bench -- [options]

  --peers               also start RabbitMQ and NATS JetStream on loopback (Debian packages,
                        installed when missing, as root: scripts/install-bench-peers.sh) and
                        drive them with the same workload; every figure is then also printed
                        as a ratio to the best peer of this run. With --cluster N: a RabbitMQ
                        quorum queue on an N-node RabbitMQ cluster and NATS JetStream R3 on an
                        N-server NATS cluster
  --runs N              runs (default 3); each run measures every broker in turn
  --seconds S           measured seconds per phase and run (default 10)
  --warmup S            warm-up seconds before each measurement (default 2)
  --settle S            idle seconds between the throughput and the latency phase, so the
                        broker's background compaction of the throughput phase's messages
                        does not land in the latency window (default 6)
  --quick               1 run of 2 s after 0.5 s warm-up, no settle (smoke test)
  --producers N         throughput producers, one connection each (default 4)
  --consumers N         throughput consumers, one connection each (default 4)
  --in-flight N         unconfirmed publishes per throughput producer (default 64)
  --pull-max N          consumer prefetch: mombroker's stream (or messages per pull with
                        --pull), the peers' consumers (default 100)
  --pull                mombroker's consumers pull (long polls) instead of streaming
  --idle-streams N      after the runs, mombroker's CPU with N idle streams open against
                        none (default 1000; 0 skips it)
  --max-backlog N       producers wait while N messages are unacked (default 5000; 0 = no bound)
  --rate R              latency phase publish rate, msg/s (default 2000)
  --max-unconfirmed N   latency producer's unconfirmed publishes at most (default 500)
  --latency-consumers N consumers in the latency phase (default 1)
  --payload-bytes N     payload size (default 1024; mombroker's is a JSON string of that size)
  --fsync POLICY        batch (default) | always | never
  --cluster N           a local N-node cluster via scripts/cluster.sh, through its gateway
  --direct              with --cluster: mombroker's clients talk to each queue's partition
                        leader instead of the gateway (leader-direct routing, DESIGN §6)
  --only PHASE          throughput | latency (default both)
  --out FILE            JSON results (default bench-results.json)
  --cpu-prof            run the broker with node --cpu-prof and print its hottest functions
  --cpu-prof-dir DIR    where the .cpuprofile files go (default a new temp dir)
  --tail                single node: load bench/tail-probe into the broker and print where
                        the latency phase's tail comes from (event loop delay, GC pauses,
                        group commits, compaction, lease sweeps, fdatasync)
  --verbose             echo the brokers' log lines
  --help
`;

export interface BenchOptions extends WorkloadSettings {
  cluster: number;
  peers: boolean;
  /** mombroker's consumers use long polls instead of a stream. */
  pull: boolean;
  /** Streams opened for the idle-streams measurement; 0 skips it. */
  idleStreams: number;
  /** Clients connect to the partition leaders directly (cluster only). */
  direct: boolean;
  only: 'both' | 'throughput' | 'latency';
  out: string;
  cpuProf: boolean;
  cpuProfDir: string | undefined;
  /** Load bench/tail-probe.ts into the (single-node) broker during the latency phase. */
  tail: boolean;
  verbose: boolean;
}

export class UsageError extends Error {}

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
      peers: { type: 'boolean' },
      runs: { type: 'string' },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      settle: { type: 'string' },
      quick: { type: 'boolean' },
      producers: { type: 'string' },
      consumers: { type: 'string' },
      'in-flight': { type: 'string' },
      'pull-max': { type: 'string' },
      pull: { type: 'boolean' },
      'idle-streams': { type: 'string' },
      direct: { type: 'boolean' },
      'max-backlog': { type: 'string' },
      rate: { type: 'string' },
      'max-unconfirmed': { type: 'string' },
      'latency-consumers': { type: 'string' },
      'payload-bytes': { type: 'string' },
      fsync: { type: 'string' },
      cluster: { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      'cpu-prof-dir': { type: 'string' },
      tail: { type: 'boolean' },
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
  if (values.tail === true && cluster >= 2) throw new UsageError('--tail: the probe runs in the single-node broker only (leave out --cluster)');
  if (values.tail === true && only === 'throughput') throw new UsageError('--tail: the probe measures the latency phase (leave out --only throughput)');
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
    maxUnconfirmed: integer('max-unconfirmed', values['max-unconfirmed'], 500, 1, 100_000),
    latencyConsumers: integer('latency-consumers', values['latency-consumers'], 1, 1, 64),
    payloadBytes: integer('payload-bytes', values['payload-bytes'], 1024, 2, 512 * 1024),
    fsync,
    cluster,
    peers: values.peers === true,
    pull: values.pull === true,
    idleStreams: integer('idle-streams', values['idle-streams'], quick ? 0 : 1000, 0, 100_000),
    direct: values.direct === true,
    only,
    out: values.out ?? 'bench-results.json',
    cpuProf: values['cpu-prof'] === true || values['cpu-prof-dir'] !== undefined,
    cpuProfDir: values['cpu-prof-dir'],
    tail: values.tail === true,
    verbose: values.verbose === true,
  };
}

