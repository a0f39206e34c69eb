/**
 * End-to-end throughput: producers each keep `inFlight` publishes outstanding (the SDK
 * coalesces the ones made in one turn into one request), consumers pull up to `pullMax`
 * with a long poll and ack each batch in one request. Counted over the measured window,
 * after a warm-up: publishes answered by the broker, and messages acked. Producers pause
 * while the backlog is at `maxBacklog`, so the rate is one the broker sustains end to end.
 */
import type { Connection, Queue } from '../src/client';
import { performance } from 'node:perf_hooks';
import { CpuMeter, type CpuShare } from './cpu-meter';
import { closeAll, consumeLoop, declareFreshQueue, deleteQueueQuietly, openConnection, sleep, type Target } from './workload';

export interface ThroughputOptions {
  target: Target;
  /** A connection used to declare and delete the run's queue. */
  admin: Connection;
  exchange: string;
  producers: number;
  consumers: number;
  /** Publishes outstanding per producer. */
  inFlight: number;
  /** Producers wait while this many messages are published and not yet acked (0 = no bound). */
  maxBacklog: number;
  pullMax: number;
  pullWaitMs: number;
  payload: string;
  warmupMs: number;
  measureMs: number;
  /** The broker's processes, to measure their CPU use. */
  brokerPids: number[];
}

export interface ThroughputResult {
  queue: string;
  /** Length of the measured window, in seconds. */
  windowSeconds: number;
  published: number;
  consumed: number;
  publishedPerSecond: number;
  consumedPerSecond: number;
  /** Messages published but not yet consumed at the end of the window (growing = consumers fall behind). */
  backlogAtEnd: number;
  publishErrors: number;
  /** HTTP requests in the window: publishes (average batch = published / this), and pulls plus acks. */
  publishRequests: number;
  consumerRequests: number;
  /** Acked messages per second, one entry per second of the window (noise check). */
  consumedTimeline: number[];
  /** Cores used during the window by the broker, this generator and the rest of the machine. */
  cpu?: CpuShare;
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
function producerLoop(queue: Queue, payload: string, inFlight: number, counters: Counters, gate: BacklogGate, stopped: () => boolean): Promise<void> {
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
      queue.publish(payload).then(ok, failed);
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
  const { target, admin, exchange } = options;
  const queueName = await declareFreshQueue(admin, exchange, 'throughput');
  const connections: Connection[] = [];
  const stopConsumers = new AbortController();
  let stopProducers = false;
  const counters: Counters = { published: 0, consumed: 0, publishErrors: 0 };
  const gate = new BacklogGate(options.maxBacklog);
  try {
    // One connection per producer and per consumer, as separate client applications.
    // A producer's batches rarely need more than the SDK's 4 publish requests in flight.
    const producerConnections = await Promise.all(Array.from({ length: options.producers }, () => openConnection(target, 4)));
    const consumerConnections = await Promise.all(Array.from({ length: options.consumers }, () => openConnection(target, 2)));
    connections.push(...producerConnections, ...consumerConnections);

    const consumers = consumerConnections.map((connection) =>
      consumeLoop(connection.queue(exchange, queueName), {
        max: options.pullMax,
        waitMs: options.pullWaitMs,
        signal: stopConsumers.signal,
        onAcked: (acked) => {
          counters.consumed += acked;
          gate.consumed(acked);
        },
      }),
    );
    const producers = producerConnections.map((connection) =>
      producerLoop(connection.queue(exchange, queueName), options.payload, options.inFlight, counters, gate, () => stopProducers),
    );
    // A loop failing mid-run must fail the run, not hang it.
    let loopFailure: unknown;
    const watched = [...consumers, ...producers].map((loop) =>
      loop.catch((error: unknown) => {
        loopFailure ??= error;
      }),
    );

    await sleep(options.warmupMs);
    const requests = (list: Connection[]) => list.reduce((sum, connection) => sum + connection.stats().requests, 0);
    const cpu = new CpuMeter(() => options.brokerPids);
    cpu.begin();
    const start = { at: performance.now(), published: counters.published, consumed: counters.consumed, publishRequests: requests(producerConnections), consumerRequests: requests(consumerConnections) };
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
    const end = { at: performance.now(), published: counters.published, consumed: counters.consumed, publishRequests: requests(producerConnections), consumerRequests: requests(consumerConnections) };
    const cpuShare = cpu.end();

    stopProducers = true;
    gate.releaseAll();
    stopConsumers.abort();
    await Promise.all(watched);
    if (loopFailure !== undefined) throw loopFailure;

    const windowSeconds = (end.at - start.at) / 1000;
    const published = end.published - start.published;
    const consumed = end.consumed - start.consumed;
    return {
      queue: queueName,
      windowSeconds,
      published,
      consumed,
      publishedPerSecond: published / windowSeconds,
      consumedPerSecond: consumed / windowSeconds,
      backlogAtEnd: end.published - end.consumed,
      publishErrors: counters.publishErrors,
      publishRequests: end.publishRequests - start.publishRequests,
      consumerRequests: end.consumerRequests - start.consumerRequests,
      consumedTimeline: timeline,
      cpu: cpuShare,
    };
  } finally {
    stopProducers = true;
    gate.releaseAll();
    stopConsumers.abort();
    await closeAll(connections);
    await deleteQueueQuietly(admin, exchange, queueName);
  }
}
