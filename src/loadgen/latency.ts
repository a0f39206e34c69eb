/**
 * Publish→consume latency at a fixed rate, in the peers' shape (issue 8 §2): one producer
 * with at most `maxUnconfirmed` publishes unconfirmed, one consumer with `prefetch` that acks,
 * persistent messages. Message i is intended to leave at start + i/rate (schedule.ts); a 1 ms
 * timer sends whatever is due while the unconfirmed bound allows, and a confirmation frees a
 * slot for the next due one at once. Each message carries its index in a header; its latency
 * is `received − intended`, so a producer held back by the bound or by a busy event loop shows
 * in the figures instead of hiding. Node's timers fire about every 1.1 ms, so even an idle
 * producer sends up to ~1 ms after the intended time (`sendLagMs`): every broker's p50 carries
 * that alike, and `fromSendMs` gives the latency from the actual send for comparison.
 * Producer and consumer live in this process: all times come from the same clock. Only
 * messages intended inside the measured window (after the warm-up) are counted. The same
 * code drives every broker (drivers/).
 */
import { CpuMeter, cpuMicrosPerMessage, type CpuShare } from './cpu-meter';
import type { BenchConsumer, BenchDriver, BenchProducer } from './driver';
import type { ObserveRun } from './progress';
import { FixedRateSchedule, UnconfirmedWindow } from './schedule';
import { SampleBuffer, summarizeLatencies, type LatencySummary } from './stats';
import { nowMs, sleep } from './workload';

export interface LatencyOptions {
  driver: BenchDriver;
  /** Messages per second. */
  rate: number;
  /** Publishes the producer may have unconfirmed (the peers' benchmarks: 500). */
  maxUnconfirmed: number;
  /** Unacked messages per consumer (mombroker: messages per pull). */
  prefetch: number;
  /** Consumers (the peers' shape: 1). */
  consumers: number;
  warmupMs: number;
  measureMs: number;
  /** How long to wait after the window for messages still on their way (default 3 s). */
  drainMs?: number;
  /** For a progress display: called once at the start with a reader of the live counts. */
  observe?: ObserveRun;
  /** Told when the measured window opens and closes (a probe in the broker measures the same window). */
  window?: { opened(): void; closed(): void };
}

export interface LatencyResult {
  queue: string;
  /** Messages intended in the measured window per second (the requested rate). */
  achievedRate: number;
  /** Messages intended in the window (the schedule's, whether or not they could be sent). */
  sentInWindow: number;
  /** Intended in the window and received (the samples). */
  received: number;
  /** Intended in the window, not received by the end of the drain. */
  missing: number;
  publishErrors: number;
  /** receive time − intended send time. */
  latencyMs: LatencySummary;
  /** receive time − actual send time: without the producer's lateness (for comparison only). */
  fromSendMs: { p50: number; p99: number; max: number };
  /** Publish → the broker's confirmation, for the window's messages: the producer's share. */
  publishRttMs: { p50: number; p99: number; max: number };
  /** How late the window's messages left after their intended time (the bound, or a busy generator). */
  sendLagMs: { p50: number; p99: number; max: number };
  /** Requests per second in the window (publishes, pulls, acks), where the protocol has requests. */
  requestsPerSecond?: number;
  /** Cores used during the window by the broker, this generator and the rest of the machine. */
  cpu?: CpuShare;
  /** Broker CPU in the window per message intended in it, in µs. */
  cpuPerMessageUs?: number;
}

const TICK_MS = 1;
const DEFAULT_DRAIN_MS = 3_000;

function brief(summary: LatencySummary): { p50: number; p99: number; max: number } {
  return { p50: summary.p50, p99: summary.p99, max: summary.max };
}

export async function runLatency(options: LatencyOptions): Promise<LatencyResult> {
  const { driver, rate } = options;
  if (!(rate > 0)) throw new RangeError(`rate: expected a positive number, got ${rate}`);
  const queue = await driver.freshQueue('latency');
  let producer: BenchProducer | undefined;
  const consumers: BenchConsumer[] = [];
  let timer: NodeJS.Timeout | undefined;
  try {
    const capacity = Math.ceil((rate * options.measureMs) / 1000) + 1024;
    const samples = new SampleBuffer(capacity);
    const fromSend = new SampleBuffer(capacity);
    const rtt = new SampleBuffer(capacity);
    const sendLag = new SampleBuffer(capacity);
    let windowStart = Number.POSITIVE_INFINITY;
    let windowEnd = Number.POSITIVE_INFINITY;
    let receivedInWindow = 0;
    let receivedTotal = 0;
    let publishErrors = 0;
    let failure: unknown;
    const inWindow = (intendedMs: number) => FixedRateSchedule.inWindow(intendedMs, windowStart, windowEnd);
    let schedule: FixedRateSchedule | undefined;
    /** When message i actually left (NaN until it did), by index. */
    let sentAt = new Float64Array(0);

    const onMessage = (index: number, receivedAtMs: number) => {
      receivedTotal++;
      if (schedule === undefined || !(index >= 0 && index < schedule.total)) return;
      const intendedMs = schedule.intendedAt(index);
      if (inWindow(intendedMs)) {
        receivedInWindow++;
        samples.push(receivedAtMs - intendedMs);
        fromSend.push(receivedAtMs - sentAt[index]!);
      }
    };
    for (let i = 0; i < options.consumers; i++) {
      const consumer = await driver.openConsumer(queue, { prefetch: options.prefetch, onMessage, onAcked: () => {} });
      consumers.push(consumer);
      consumer.failed.catch((error: unknown) => {
        failure ??= error;
      });
    }
    producer = await driver.openProducer(queue);
    const publisher = producer;
    // Let the consumers' first requests reach the broker before the first message.
    await sleep(100);

    const begin = nowMs() + TICK_MS;
    windowStart = begin + options.warmupMs;
    windowEnd = windowStart + options.measureMs;
    const plan = new FixedRateSchedule(begin, rate, windowEnd);
    schedule = plan;
    sentAt = new Float64Array(plan.total).fill(Number.NaN);
    const slots = new UnconfirmedWindow(options.maxUnconfirmed);
    const cpu = new CpuMeter(driver.pids);
    const requests = () => {
      let sum = publisher.requests?.();
      for (const consumer of consumers) sum = sum === undefined ? undefined : consumer.requests === undefined ? undefined : sum + consumer.requests();
      return sum;
    };
    let stopped = false;
    let settled = 0;
    options.observe?.(() => ({ published: settled - publishErrors, consumed: receivedTotal }));

    const pump = () => {
      if (stopped) return;
      let sendable = slots.sendable(plan.dueBy(nowMs()));
      while (sendable-- > 0) {
        const index = slots.send();
        const intendedMs = plan.intendedAt(index);
        const sentMs = nowMs();
        sentAt[index] = sentMs;
        const measured = inWindow(intendedMs);
        if (measured) sendLag.push(sentMs - intendedMs);
        publisher.publish(index).then(
          () => {
            if (measured) rtt.push(nowMs() - sentMs);
            slots.settle();
            settled++;
            pump();
          },
          () => {
            publishErrors++;
            slots.settle();
            settled++;
            pump();
          },
        );
      }
    };

    let cpuShare: CpuShare | undefined;
    let requestsAtStart: number | undefined;
    let requestsInWindow: number | undefined;
    let cpuStarted = false;
    await new Promise<void>((resolve) => {
      timer = setInterval(() => {
        const now = nowMs();
        if (now >= windowStart && !cpuStarted) {
          cpuStarted = true;
          cpu.begin();
          options.window?.opened();
          requestsAtStart = requests();
        }
        pump();
        if (now >= windowEnd || failure !== undefined) {
          cpuShare = cpu.end();
          if (cpuStarted) options.window?.closed();
          const atEnd = requests();
          requestsInWindow = atEnd === undefined || requestsAtStart === undefined ? undefined : atEnd - requestsAtStart;
          clearInterval(timer);
          timer = undefined;
          resolve();
        }
      }, TICK_MS);
    });

    // Messages intended near the end of the window may still wait for a slot or be on their way.
    const drainUntil = nowMs() + (options.drainMs ?? DEFAULT_DRAIN_MS);
    while (failure === undefined && nowMs() < drainUntil && (slots.sent < plan.total || receivedTotal < settled - publishErrors || settled < slots.sent)) {
      pump();
      await sleep(10);
    }
    stopped = true;
    if (failure !== undefined) throw failure;
    if (samples.length === 0) throw new Error(`latency (${driver.name}): no message intended in the measured window came back`);

    const seconds = options.measureMs / 1000;
    const sentInWindow = plan.countBefore(windowEnd) - plan.countBefore(windowStart);
    return {
      queue,
      achievedRate: sentInWindow / seconds,
      sentInWindow,
      received: receivedInWindow,
      missing: sentInWindow - receivedInWindow,
      publishErrors,
      latencyMs: summarizeLatencies(samples.values()),
      fromSendMs: brief(summarizeLatencies(fromSend.values())),
      publishRttMs: brief(summarizeLatencies(rtt.length > 0 ? rtt.values() : [0])),
      sendLagMs: brief(summarizeLatencies(sendLag.length > 0 ? sendLag.values() : [0])),
      requestsPerSecond: requestsInWindow === undefined ? undefined : requestsInWindow / seconds,
      cpu: cpuShare,
      cpuPerMessageUs: cpuShare === undefined ? undefined : cpuMicrosPerMessage(cpuShare.brokerSeconds, sentInWindow),
    };
  } finally {
    if (timer !== undefined) clearInterval(timer);
    await Promise.allSettled(consumers.map((consumer) => consumer.stop()));
    if (producer !== undefined) await producer.close().catch(() => {});
    await driver.deleteQueue(queue);
  }
}
