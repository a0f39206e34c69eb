/**
 * Publish→consume latency at a fixed rate. A 1 ms timer publishes whatever the schedule
 * says is due (about two messages a tick at 2,000 msg/s), each carrying its send time in the
 * `t` header; consumers long-poll and record `now - t` for every message the moment its
 * pull answer is parsed. Producer and consumers live in this process, so both timestamps
 * come from the same clock. Only messages sent inside the measured window (after the
 * warm-up) are counted.
 */
import type { Connection } from '../src/client';
import { CpuMeter, type CpuShare } from './cpu-meter';
import { SampleBuffer, summarizeLatencies, type LatencySummary } from './stats';
import { closeAll, consumeLoop, declareFreshQueue, deleteQueueQuietly, nowMs, openConnection, sleep, type Target } from './workload';

export interface LatencyOptions {
  target: Target;
  admin: Connection;
  exchange: string;
  /** Messages per second. */
  rate: number;
  consumers: number;
  pullMax: number;
  pullWaitMs: number;
  payload: string;
  warmupMs: number;
  measureMs: number;
  /** How long to wait after the window for messages still on their way. */
  drainMs?: number;
  /** The broker's processes, to measure their CPU use. */
  brokerPids: number[];
}

export interface LatencyResult {
  queue: string;
  /** Messages sent in the measured window per second (should be the requested rate). */
  achievedRate: number;
  sentInWindow: number;
  /** Sent in the window and received (the samples). */
  received: number;
  /** Sent in the window, not received by the end of the drain. */
  missing: number;
  publishErrors: number;
  latencyMs: LatencySummary;
  /** Publish call → the broker's answer (durable), for the same messages: the producer's share of the latency. */
  publishRttMs: { p50: number; p99: number; max: number };
  /** HTTP requests per second in the window (publishes, pulls and acks): the broker's real load. */
  requestsPerSecond: number;
  /** How late the generator's timer ran behind the schedule (ms): a busy generator shows here. */
  generatorLagMs: { p99: number; max: number };
  /** Cores used during the window by the broker, this generator and the rest of the machine. */
  cpu?: CpuShare;
}

const TICK_MS = 1;
const SEND_TIME_HEADER = 't';

export async function runLatency(options: LatencyOptions): Promise<LatencyResult> {
  const { target, admin, exchange, rate } = options;
  if (!(rate > 0)) throw new RangeError(`rate: expected a positive number, got ${rate}`);
  const queueName = await declareFreshQueue(admin, exchange, 'latency');
  const connections: Connection[] = [];
  const stopConsumers = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  try {
    const producerConnection = await openConnection(target, 4);
    const consumerConnections = await Promise.all(Array.from({ length: options.consumers }, () => openConnection(target, 2)));
    connections.push(producerConnection, ...consumerConnections);
    const producer = producerConnection.queue(exchange, queueName);

    const samples = new SampleBuffer(Math.ceil((rate * options.measureMs) / 1000) + 1024);
    const rtt = new SampleBuffer(Math.ceil((rate * options.measureMs) / 1000) + 1024);
    const lag = new SampleBuffer(Math.ceil(options.measureMs / TICK_MS) + 1024);
    let windowStart = Number.POSITIVE_INFINITY;
    let windowEnd = Number.POSITIVE_INFINITY;
    let sentInWindow = 0;
    let receivedInWindow = 0;
    let sentTotal = 0;
    let receivedTotal = 0;
    let publishErrors = 0;

    const onReceive = (messages: { headers: Record<string, string> }[], receivedAt: number) => {
      for (const message of messages) {
        receivedTotal++;
        const sentAt = Number(message.headers[SEND_TIME_HEADER]);
        if (sentAt >= windowStart && sentAt < windowEnd) {
          receivedInWindow++;
          samples.push(receivedAt - sentAt);
        }
      }
    };
    const consumers = consumerConnections.map((connection) =>
      consumeLoop(connection.queue(exchange, queueName), {
        max: options.pullMax,
        waitMs: options.pullWaitMs,
        signal: stopConsumers.signal,
        onReceive,
        onAcked: () => {},
      }),
    );
    let consumerFailure: unknown;
    const watchedConsumers = consumers.map((loop) =>
      loop.catch((error: unknown) => {
        consumerFailure ??= error;
      }),
    );
    // Let the consumers' first long polls reach the broker before the first message.
    await sleep(100);

    const payload = options.payload;
    const failed = () => {
      publishErrors++;
    };
    const begin = nowMs();
    windowStart = begin + options.warmupMs;
    windowEnd = windowStart + options.measureMs;
    const msPerMessage = 1000 / rate;
    let scheduled = 0;
    const cpu = new CpuMeter(() => options.brokerPids);
    let cpuStarted = false;
    const requests = () => connections.reduce((sum, connection) => sum + connection.stats().requests, 0);
    let requestsAtStart = 0;
    let requestsInWindow = 0;
    let cpuShare: CpuShare | undefined;
    await new Promise<void>((resolve) => {
      timer = setInterval(() => {
        const now = nowMs();
        if (now >= windowStart && !cpuStarted) {
          cpuStarted = true;
          cpu.begin();
          requestsAtStart = requests();
        }
        if (now >= windowEnd || consumerFailure !== undefined) {
          cpuShare = cpu.end();
          requestsInWindow = requests() - requestsAtStart;
          clearInterval(timer);
          resolve();
          return;
        }
        const due = Math.floor((now - begin) / msPerMessage) + 1;
        if (due > scheduled && now >= windowStart) lag.push(now - (begin + scheduled * msPerMessage));
        while (scheduled < due) {
          scheduled++;
          const sentAt = nowMs();
          sentTotal++;
          if (sentAt >= windowStart) sentInWindow++;
          const publishing = producer.publish(payload, { headers: { [SEND_TIME_HEADER]: String(sentAt) } });
          if (sentAt >= windowStart) publishing.then(() => rtt.push(nowMs() - sentAt), failed);
          else publishing.catch(failed);
        }
      }, TICK_MS);
    });

    // Messages sent near the end of the window are still on their way.
    const drainUntil = nowMs() + (options.drainMs ?? 3_000);
    while (receivedTotal < sentTotal - publishErrors && nowMs() < drainUntil && consumerFailure === undefined) await sleep(20);
    await producerConnection.flush();
    stopConsumers.abort();
    await Promise.all(watchedConsumers);
    if (consumerFailure !== undefined) throw consumerFailure;
    if (samples.length === 0) throw new Error('latency: no message sent in the measured window came back');

    const lagSummary = summarizeLatencies(lag.length > 0 ? lag.values() : [0]);
    const rttSummary = summarizeLatencies(rtt.length > 0 ? rtt.values() : [0]);
    return {
      queue: queueName,
      achievedRate: sentInWindow / (options.measureMs / 1000),
      sentInWindow,
      received: receivedInWindow,
      missing: sentInWindow - receivedInWindow,
      publishErrors,
      latencyMs: summarizeLatencies(samples.values()),
      publishRttMs: { p50: rttSummary.p50, p99: rttSummary.p99, max: rttSummary.max },
      requestsPerSecond: requestsInWindow / (options.measureMs / 1000),
      generatorLagMs: { p99: lagSummary.p99, max: lagSummary.max },
      cpu: cpuShare,
    };
  } finally {
    if (timer !== undefined) clearInterval(timer);
    stopConsumers.abort();
    await closeAll(connections);
    await deleteQueueQuietly(admin, exchange, queueName);
  }
}
