/**
 * The load of a fault-suite run, through the SDK and the gateway, recording its history
 * (history.ts):
 *
 * - one producer per queue and one for the topic, each publishing `{producer, seq}` one at a
 *   time at a fixed rate with its own producer id (`<run>-<producer>-<seq>`), acks=all, and
 *   retrying a message a bounded number of times with the same id before moving on;
 * - two consumers per inbox (each queue, and the topic's subscription): one streaming, one
 *   pulling, both acking every message as they get it;
 * - a sampler of the partition map (leader, epoch, ISR of every partition).
 *
 * Every loop is bounded in count and in time, and stops by itself.
 */
import { connect, isMomClientError, type Connection, type Message, type Queue, type Subscription } from '../src/client';
import type { DeliveryRecord, EpochSample, PublishRecord } from './history';
import type { ChaosCluster } from './cluster';

export interface InboxSpec {
  /** `q/<queue>` or `s/<topic>/<subscription>`. */
  inbox: string;
  partition: number;
  kind: 'queue' | 'subscription';
  /** Queue name, or topic name for a subscription. */
  name: string;
  subscription?: string;
}

export interface LoadOptions {
  url: string;
  user: string;
  password: string;
  exchange: string;
  inboxes: InboxSpec[];
  /** Prefix of every producer id of this run. */
  runTag: string;
  /** Publishes per second per producer. */
  rate: number;
  /** At most this many messages per producer. */
  maxPerProducer: number;
  /** Producers stop by themselves after this long. */
  maxMs: number;
  /** Attempts per message, all with the same producer id. */
  attempts: number;
  leaseMs: number;
}

const SDK_RETRY_DEADLINE_MS = 3_000;
const REQUEST_TIMEOUT_MS = 12_000;

function describe(error: unknown): string {
  if (isMomClientError(error)) return `${error.status ?? ''} ${error.code}`.trim();
  return (error as Error).message ?? String(error);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class Load {
  readonly publishes: PublishRecord[] = [];
  readonly deliveries: DeliveryRecord[] = [];
  /** Consumer errors by "consumer: error" (the SDK gave up reconnecting; the loop starts again). */
  readonly consumerErrors = new Map<string, number>();
  startedAt = 0;
  stoppedAt = 0;
  private readonly producerStop = new AbortController();
  private readonly consumerStop = new AbortController();
  private producers: Promise<void> | undefined;
  private consumers: Promise<void> | undefined;
  private readonly connections: Connection[] = [];

  constructor(private readonly options: LoadOptions) {}

  private async open(): Promise<Connection> {
    const connection = await connect({ url: this.options.url, user: this.options.user, password: this.options.password, retryDeadlineMs: SDK_RETRY_DEADLINE_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS, connections: 8 });
    this.connections.push(connection);
    return connection;
  }

  async start(): Promise<void> {
    const consumerLoops: Array<Promise<void>> = [];
    for (const spec of this.options.inboxes) {
      for (const mode of ['stream', 'pull'] as const) {
        const connection = await this.open();
        consumerLoops.push(this.consume(connection, spec, mode));
      }
    }
    this.consumers = Promise.all(consumerLoops).then(() => undefined);
    const producerLoops: Array<Promise<void>> = [];
    for (const spec of this.options.inboxes) {
      const connection = await this.open();
      producerLoops.push(this.produce(connection, spec));
    }
    this.startedAt = Date.now();
    this.producers = Promise.all(producerLoops).then(() => {
      this.stoppedAt = Date.now();
    });
  }

  private async produce(connection: Connection, spec: InboxSpec): Promise<void> {
    const { exchange, runTag, rate, maxPerProducer, maxMs, attempts } = this.options;
    const producer = `${spec.kind === 'queue' ? 'pq' : 'pt'}-${spec.name}`;
    const target = spec.kind === 'queue' ? connection.queue(exchange, spec.name) : connection.topic(exchange, spec.name);
    const stop = this.producerStop.signal;
    const started = Date.now();
    const interval = 1_000 / rate;
    for (let seq = 0; seq < maxPerProducer && !stop.aborted && Date.now() - started < maxMs; seq++) {
      const record: PublishRecord = { inbox: spec.inbox, partition: spec.partition, producer, seq, id: `${runTag}-${producer}-${seq}`, firstSentAt: Date.now(), attempts: 0, ackedAt: undefined, lastError: undefined };
      this.publishes.push(record);
      // Bounded retries with the same id: the broker stores it once (dedup window).
      while (record.attempts < attempts) {
        record.attempts++;
        try {
          await target.publish({ producer, seq }, { id: record.id });
          record.ackedAt = Date.now();
          break;
        } catch (error) {
          record.lastError = describe(error);
          await sleep(200);
        }
      }
      const next = started + (seq + 1) * interval;
      await sleep(Math.max(0, next - Date.now()), stop);
    }
  }

  private async consume(connection: Connection, spec: InboxSpec, mode: 'stream' | 'pull'): Promise<void> {
    const consumer = `${mode}-${spec.inbox}`;
    const source: Queue | Subscription = spec.kind === 'queue' ? connection.queue(this.options.exchange, spec.name) : connection.topic(this.options.exchange, spec.name).subscription(spec.subscription!);
    const stop = this.consumerStop.signal;
    const leaseMs = this.options.leaseMs;
    // Bounded: it ends when told, and the run's drain is bounded in time.
    while (!stop.aborted) {
      try {
        for await (const message of source.consume({ mode, max: 50, prefetch: 50, waitMs: 1_000, leaseMs, signal: stop })) {
          this.record(message, spec, consumer, mode, leaseMs);
        }
      } catch (error) {
        const key = `${consumer}: ${describe(error)}`;
        this.consumerErrors.set(key, (this.consumerErrors.get(key) ?? 0) + 1);
        await sleep(200, stop);
      }
    }
  }

  private record(message: Message, spec: InboxSpec, consumer: string, mode: 'stream' | 'pull', leaseMs: number): void {
    const delivery: DeliveryRecord = {
      inbox: spec.inbox,
      partition: spec.partition,
      consumer,
      mode,
      id: message.id,
      payload: message.payload,
      deliveries: message.deliveries,
      at: Date.now(),
      leaseMs,
      ackSentAt: Date.now(),
      ackResult: undefined,
      ackAnsweredAt: undefined,
    };
    this.deliveries.push(delivery);
    message.ack().then(
      (settled) => {
        delivery.ackResult = settled ? 'acked' : 'unknown';
        delivery.ackAnsweredAt = Date.now();
      },
      () => {
        delivery.ackResult = 'error';
        delivery.ackAnsweredAt = Date.now();
      },
    );
  }

  /** Acknowledged publishes per inbox so far. */
  ackedCount(inbox: string): number {
    let n = 0;
    for (const record of this.publishes) if (record.inbox === inbox && record.ackedAt !== undefined) n++;
    return n;
  }

  /** Acknowledged publishes per inbox after `since`. */
  ackedSince(inbox: string, since: number): number {
    let n = 0;
    for (const record of this.publishes) if (record.inbox === inbox && record.ackedAt !== undefined && record.ackedAt > since) n++;
    return n;
  }

  /** Stops the producers (each finishes the message it is on) and waits for them. */
  async stopProducers(): Promise<void> {
    this.producerStop.abort();
    await this.producers;
  }

  /**
   * Waits until every acknowledged message was delivered and no delivery came for `quietMs`
   * (late duplicates show up in that time), or until `timeoutMs`; then stops the consumers.
   */
  async drain(timeoutMs: number, quietMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const delivered = new Set<string>();
    let seen = 0;
    let lastChange = Date.now();
    for (;;) {
      if (seen < this.deliveries.length) lastChange = Date.now();
      for (; seen < this.deliveries.length; seen++) delivered.add(`${this.deliveries[seen]!.inbox}\0${this.deliveries[seen]!.id}`);
      const missing = this.publishes.some((r) => r.ackedAt !== undefined && !delivered.has(`${r.inbox}\0${r.id}`));
      if ((!missing && Date.now() - lastChange >= quietMs) || Date.now() > deadline) break;
      await sleep(100);
    }
    await this.close();
  }

  /** Stops everything and closes the connections. Idempotent. */
  async close(): Promise<void> {
    this.producerStop.abort();
    this.consumerStop.abort();
    await this.producers;
    await this.consumers;
    await Promise.allSettled(this.connections.map((c) => c.close()));
  }
}

/** Samples the partition map every `intervalMs` until stopped. */
export class MapSampler {
  readonly samples: EpochSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private inFlight: Promise<void> | undefined;
  errors = 0;

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (!this.busy) void this.sample();
    }, this.intervalMs);
  }

  /** Takes a sample now (after the one in flight, if any). */
  async sample(): Promise<void> {
    while (this.inFlight) await this.inFlight;
    this.busy = true;
    this.inFlight = (async () => {
      try {
        const map = await this.cluster.partitionMap();
        const at = Date.now();
        for (const p of map.partitions) this.samples.push({ at, partition: p.partition, epoch: p.leader_epoch, leader: p.leader, isr: [...p.isr], replicas: [...p.replicas] });
      } catch {
        this.errors++;
      } finally {
        this.busy = false;
        this.inFlight = undefined;
      }
    })();
    await this.inFlight;
  }

  /** The latest sample of a partition. */
  latest(partition: number): EpochSample | undefined {
    for (let i = this.samples.length - 1; i >= 0; i--) if (this.samples[i]!.partition === partition) return this.samples[i];
    return undefined;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
