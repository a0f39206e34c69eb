/**
 * End-to-end throughput: producers each keep `inFlight` publishes outstanding (mombroker's SDK
 * coalesces the ones made in one turn into one request), consumers take up to `prefetch`
 * unacked messages and ack them. Counted over the measured window, after a warm-up:
 * publishes confirmed by the broker, and messages acked. Producers pause while the backlog is
 * at `maxBacklog`, so the rate is one the broker sustains end to end. The same code drives
 * every broker (drivers/).
 */
import { performance } from 'node:perf_hooks';
import { CpuMeter, cpuMicrosPerMessage, type CpuShare } from './cpu-meter';
import type { BenchConsumer, BenchDriver, BenchProducer } from './driver';
import type { ObserveRun } from './progress';
import { sleep } from './workload';

export interface ThroughputOptions {
  driver: BenchDriver;
  producers: number;
  consumers: number;
  /** Publishes outstanding per producer. */
  inFlight: number;
  /** Producers wait while this many messages are published and not yet acked (0 = no bound). */
  maxBacklog: number;
  /** Unacked messages per consumer (mombroker: messages per pull). */
  prefetch: number;
  warmupMs: number;
  measureMs: number;
  /** For a progress display: called once at the start with a reader of the live counts. */
  observe?: ObserveRun;
}

export interface ThroughputResult {
  queue: string;
  /** Length of the measured window, in seconds. */
  windowSeconds: number;
  published: number;
  consumed: number;
  publishedPerSecond: number;
  consumedPerSecond: number;
  /**
   * Messages published but not yet consumed at the end of the window (growing = consumers fall
   * behind). Slightly negative for peers whose acks count when sent: a consumer may ack a
   * message before its producer has read the confirmation.
   */
  backlogAtEnd: number;
  publishErrors: number;
  /** Requests in the window, where the protocol has requests (mombroker's HTTP): publishes (average batch = published / this), and pulls plus acks. */
  publishRequests?: number;
  consumerRequests?: number;
  /** Acked messages per second, one entry per second of the window (noise check). */
  consumedTimeline: number[];
  /** Cores used during the window by the broker, this generator and the rest of the machine. */
  cpu?: CpuShare;
  /** Broker CPU in the window per message consumed in it, in µs. */
  cpuPerMessageUs?: number;
}

interface Counters {
  published: number;
  consumed: number;
  publishErrors: number;
}

/**
 * Bounds the backlog (messages handed to publish and not yet acked) so producers cannot
 * run away from consumers: the measured rate is then one the system sustains end to end,
 * not a publish burst that leaves a growing queue behind. 0 = unbounded.
 */
class BacklogGate {
  private handed = 0;
  private acked = 0;
  private parked: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  tryTake(): boolean {
    if (this.limit > 0 && this.handed - this.acked >= this.limit) return false;
    this.handed++;
    return true;
  }

  /** A publish that failed stored nothing. */
  giveBack(): void {
    this.handed--;
    this.wake();
  }

  park(resume: () => void): void {
    this.parked.push(resume);
  }

  consumed(count: number): void {
    this.acked += count;
    this.wake();
  }

  /** Wakes every parked producer (at the end of the run). */
  releaseAll(): void {
    const parked = this.parked;
    this.parked = [];
    for (const resume of parked) resume();
  }

  private wake(): void {
    while (this.parked.length > 0 && (this.limit === 0 || this.handed - this.acked < this.limit)) this.parked.shift()!();
  }
}

/**
 * Keeps `inFlight` publishes outstanding (fewer while the backlog is at its bound) until
 * `stopped()`; resolves once all are answered.
 */
function producerLoop(producer: BenchProducer, inFlight: number, counters: Counters, gate: BacklogGate, stopped: () => boolean): Promise<void> {
  return new Promise<void>((resolve) => {
    let outstanding = 0;
    let parked = 0;
    const done = () => {
      if (outstanding === 0 && parked === 0) resolve();
    };
    const next = () => {
      if (stopped()) return done();
      if (!gate.tryTake()) {
        parked++;
        gate.park(() => {
          parked--;
          next();
        });
        return;
      }
      outstanding++;
      producer.publish().then(ok, failed);
    };
    const ok = () => {
      outstanding--;
      counters.published++;
      next();
    };
    const failed = () => {
      outstanding--;
      counters.publishErrors++;
      gate.giveBack();
      next();
    };
    for (let i = 0; i < inFlight; i++) next();
  });
}

export async function runThroughput(options: ThroughputOptions): Promise<ThroughputResult> {
  const { driver } = options;
  const queue = await driver.freshQueue('throughput');
  const producers: BenchProducer[] = [];
  const consumers: BenchConsumer[] = [];
  let stopProducers = false;
  const counters: Counters = { published: 0, consumed: 0, publishErrors: 0 };
  const gate = new BacklogGate(options.maxBacklog);
  options.observe?.(() => ({ published: counters.published, consumed: counters.consumed }));
  try {
    // A loop failing mid-run must fail the run, not hang it.
    let loopFailure: unknown;
    const onAcked = (acked: number) => {
      counters.consumed += acked;
      gate.consumed(acked);
    };
    for (let i = 0; i < options.consumers; i++) {
      const consumer = await driver.openConsumer(queue, { prefetch: options.prefetch, onAcked });
      consumers.push(consumer);
      consumer.failed.catch((error: unknown) => {
        loopFailure ??= error;
      });
    }
    for (let i = 0; i < options.producers; i++) producers.push(await driver.openProducer(queue));
    const producing = producers.map((producer) =>
      producerLoop(producer, options.inFlight, counters, gate, () => stopProducers).catch((error: unknown) => {
        loopFailure ??= error;
      }),
    );

    await sleep(options.warmupMs);
    const requests = (list: Array<{ requests?: () => number }>) => list.reduce<number | undefined>((sum, x) => (sum === undefined || x.requests === undefined ? undefined : sum + x.requests()), 0);
    const cpu = new CpuMeter(driver.pids);
    cpu.begin();
    const start = { at: performance.now(), published: counters.published, consumed: counters.consumed, publishRequests: requests(producers), consumerRequests: requests(consumers) };
    const timeline: number[] = [];
    let previous = start.consumed;
    const seconds = Math.floor(options.measureMs / 1000);
    for (let i = 0; i < seconds && loopFailure === undefined; i++) {
      await sleep(start.at + (i + 1) * 1000 - performance.now());
      timeline.push(counters.consumed - previous);
      previous = counters.consumed;
    }
    const rest = start.at + options.measureMs - performance.now();
    if (rest > 0 && loopFailure === undefined) await sleep(rest);
    const end = { at: performance.now(), published: counters.published, consumed: counters.consumed, publishRequests: requests(producers), consumerRequests: requests(consumers) };
    const cpuShare = cpu.end();

    stopProducers = true;
    gate.releaseAll();
    await Promise.all(producing);
    await Promise.all(consumers.map((consumer) => consumer.stop()));
    if (loopFailure !== undefined) throw loopFailure;

    const windowSeconds = (end.at - start.at) / 1000;
    const published = end.published - start.published;
    const consumed = end.consumed - start.consumed;
    const difference = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : a - b);
    return {
      queue,
      windowSeconds,
      published,
      consumed,
      publishedPerSecond: published / windowSeconds,
      consumedPerSecond: consumed / windowSeconds,
      backlogAtEnd: end.published - end.consumed,
      publishErrors: counters.publishErrors,
      publishRequests: difference(end.publishRequests, start.publishRequests),
      consumerRequests: difference(end.consumerRequests, start.consumerRequests),
      consumedTimeline: timeline,
      cpu: cpuShare,
      cpuPerMessageUs: cpuShare === undefined ? undefined : cpuMicrosPerMessage(cpuShare.brokerSeconds, consumed),
    };
  } finally {
    stopProducers = true;
    gate.releaseAll();
    await Promise.allSettled(consumers.map((consumer) => consumer.stop()));
    await Promise.allSettled(producers.map((producer) => producer.close()));
    await driver.deleteQueue(queue);
  }
}
