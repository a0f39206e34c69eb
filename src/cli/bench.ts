/**
 * `mombroker bench`: the benchmark's load against a broker or gateway that is already running
 * (as `nats bench` or RabbitMQ's perf-test do). `npm run bench` is the self-contained version
 * that starts its own broker and compares with reference brokers.
 */
import type { Command } from 'commander';
import { mombrokerDriver } from '../loadgen/mombroker-driver';
import { runLatency } from '../loadgen/latency';
import { runThroughput } from '../loadgen/throughput';
import { ProgressDisplay } from './bench-progress';
import { clientCommand, integerOption, runClient, usageError, writeOut, type ClientFlags } from './client-options';

interface BenchFlags extends ClientFlags {
  exchange: string;
  seconds?: string;
  producers?: string;
  consumers?: string;
  inFlight?: string;
  rate?: string;
  payloadBytes?: string;
  only?: string;
}

const PULL_MAX = 100;
const PULL_WAIT_MS = 1_000;
/** The latency phase's producer, as the peers' benchmarks run it (issue 8). */
const MAX_UNCONFIRMED = 500;
const WARMUP_MS = 2_000;
/** What the latency phase waits after its window for messages still on their way (its default). */
const LATENCY_DRAIN_MS = 3_000;

export function registerBenchCommand(program: Command): void {
  clientCommand(program, 'bench')
    .description('measure end-to-end throughput and latency at a fixed rate against a running broker (JSON lines; progress on stderr when it is a terminal)')
    .option('--exchange <name>', 'exchange to use (declared if missing; a fresh queue per phase)', 'bench')
    .option('--seconds <n>', 'measured seconds per phase (default 10)')
    .option('--producers <n>', 'throughput producers (default 4)')
    .option('--consumers <n>', 'throughput consumers (default 4)')
    .option('--in-flight <n>', 'publishes outstanding per producer (default 64)')
    .option('--rate <n>', 'latency phase messages per second (default 2000)')
    .option('--payload-bytes <n>', 'payload size (default 1024)')
    .option('--only <phase>', 'throughput or latency (default both)')
    .action(async (_options: unknown, command: Command) => {
      const flags = command.opts<BenchFlags>();
      await runClient(
        command,
        () => {
          if (flags.only !== undefined && flags.only !== 'throughput' && flags.only !== 'latency') throw usageError('--only: expected throughput or latency');
          return {
            measureMs: (integerOption(flags.seconds, '--seconds', 1, 3600) ?? 10) * 1000,
            producers: integerOption(flags.producers, '--producers', 1, 256) ?? 4,
            consumers: integerOption(flags.consumers, '--consumers', 1, 256) ?? 4,
            inFlight: integerOption(flags.inFlight, '--in-flight', 1, 1000) ?? 64,
            rate: integerOption(flags.rate, '--rate', 1, 1_000_000) ?? 2000,
            payloadBytes: integerOption(flags.payloadBytes, '--payload-bytes', 2, 512 * 1024) ?? 1024,
          };
        },
        async (admin, input, settings) => {
          const target = { url: settings.url, user: settings.user!, password: settings.password!, ...(settings.ca ? { ca: settings.ca } : {}) };
          await admin.declareExchange(flags.exchange);
          // The broker runs elsewhere: no PIDs to read its CPU from.
          const driver = mombrokerDriver({ target, admin, exchange: flags.exchange, payloadBytes: input.payloadBytes, pullWaitMs: PULL_WAIT_MS, pids: () => [] });
          const common = { driver, prefetch: PULL_MAX, warmupMs: WARMUP_MS, measureMs: input.measureMs };
          // On a terminal, a line on stderr shows each phase running; the results stay JSON lines on stdout.
          const progress = ProgressDisplay.forStderr();
          try {
            if (flags.only !== 'latency') {
              const observe = progress?.start('throughput', WARMUP_MS + input.measureMs);
              const result = await runThroughput({ ...common, producers: input.producers, consumers: input.consumers, inFlight: input.inFlight, maxBacklog: 5_000, observe });
              progress?.stop();
              await writeOut(`${JSON.stringify({ phase: 'throughput', consumed_per_second: Math.round(result.consumedPerSecond), published_per_second: Math.round(result.publishedPerSecond), publish_errors: result.publishErrors, backlog_at_end: result.backlogAtEnd })}\n`);
            }
            if (flags.only !== 'throughput') {
              const observe = progress?.start('latency', WARMUP_MS + input.measureMs + LATENCY_DRAIN_MS);
              const result = await runLatency({ ...common, rate: input.rate, consumers: 1, maxUnconfirmed: MAX_UNCONFIRMED, drainMs: LATENCY_DRAIN_MS, observe });
              progress?.stop();
              await writeOut(`${JSON.stringify({ phase: 'latency', rate: input.rate, achieved_rate: Math.round(result.achievedRate), p50_ms: result.latencyMs.p50, p99_ms: result.latencyMs.p99, max_ms: result.latencyMs.max, missing: result.missing })}\n`);
            }
          } finally {
            progress?.stop();
          }
        },
      );
    });
}
