/**
 * mombroker through its TypeScript SDK, over loopback HTTP: one SDK connection per producer
 * and per consumer, as separate client applications. Publishes made in one event-loop turn
 * travel in one request (the SDK's batching); the consumer is the pull loop of workload.ts.
 */
import type { Connection } from '../client';
import { closeAll, consumeLoop, declareFreshQueue, deleteQueueQuietly, makePayload, nowMs, openConnection, type Target } from './workload';
import { STAMP_HEADER, type BenchConsumer, type BenchDriver, type BenchProducer, type ConsumerOptions } from './driver';

/** A producer's batches rarely need more than the SDK's 4 publish requests in flight. */
const PRODUCER_SOCKETS = 4;
/** A consumer holds one long poll and one ack request at a time. */
const CONSUMER_SOCKETS = 2;

export interface MombrokerDriverOptions {
  target: Target;
  /** Declares and deletes the queues; its exchange must exist. */
  admin: Connection;
  exchange: string;
  payloadBytes: number;
  /** How long a pull waits for messages (long poll), with `pull`. */
  pullWaitMs: number;
  /** Consume with long polls instead of a stream. */
  pull?: boolean;
  /** Producers and consumers use the SDK's leader-direct routing, to measure it against the gateway. */
  direct?: boolean;
  pids: () => number[];
  name?: string;
  description?: string;
}

/**
 * The consumer mombroker's workloads use: the SDK's stream `consume()` (GET …/stream, Server-
 * Sent Events, at most `prefetch` unacked), acking in the background as the peers' consumers
 * do. `--pull` in the bench options switches to the SDK's pull loop (long polls).
 */
function startConsumer(target: Target, exchange: string, queueName: string, options: ConsumerOptions, pullWaitMs: number, pull: boolean): Promise<BenchConsumer> {
  return pull ? startPullConsumer(target, exchange, queueName, options, pullWaitMs) : startStreamConsumer(target, exchange, queueName, options);
}

export function mombrokerDriver(options: MombrokerDriverOptions): BenchDriver {
  const { target, admin, exchange } = options;
  const payload = makePayload(options.payloadBytes);
  const connectTo: Target = options.direct ? { ...target, routing: 'leader' } : target;
  return {
    name: options.name ?? 'mombroker',
    description: options.description ?? `SDK over HTTP, fsync before acknowledging; consumer ${options.pull ? 'pulls (long poll)' : 'streams (server push)'}`,
    pids: options.pids,
    freshQueue: (prefix) => declareFreshQueue(admin, exchange, prefix),
    deleteQueue: (name) => deleteQueueQuietly(admin, exchange, name),
    async openProducer(queueName): Promise<BenchProducer> {
      const connection = await openConnection(connectTo, PRODUCER_SOCKETS);
      const queue = connection.queue(exchange, queueName);
      return {
        async publish(stamp) {
          await queue.publish(payload, stamp === undefined ? undefined : { headers: { [STAMP_HEADER]: String(stamp) } });
        },
        requests: () => connection.stats().requests,
        close: () => closeAll([connection]),
      };
    },
    openConsumer: async (queueName, consumerOptions) => startConsumer(connectTo, exchange, queueName, consumerOptions, options.pullWaitMs, options.pull === true),
    close: async () => {},
  };
}

/** One stream with `prefetch` credit; each message acked in the background (coalesced by the SDK). */
async function startStreamConsumer(target: Target, exchange: string, queueName: string, options: ConsumerOptions): Promise<BenchConsumer> {
  const connection = await openConnection(target, CONSUMER_SOCKETS);
  const stopping = new AbortController();
  const { onMessage, onAcked } = options;
  let ackFailure: unknown;
  const loop = (async () => {
    for await (const message of connection.queue(exchange, queueName).consume({ prefetch: options.prefetch, signal: stopping.signal })) {
      onMessage?.(Number(message.headers[STAMP_HEADER]), nowMs());
      message.ack().then(
        () => onAcked(1),
        (error: unknown) => (ackFailure ??= error),
      );
      if (ackFailure !== undefined) throw ackFailure;
    }
  })();
  return consumerHandle(connection, loop, stopping);
}

/** Pulls with a long poll (at most `prefetch` per pull) and acks in the background (workload.ts's consumeLoop). */
async function startPullConsumer(target: Target, exchange: string, queueName: string, options: ConsumerOptions, pullWaitMs: number): Promise<BenchConsumer> {
  const connection = await openConnection(target, CONSUMER_SOCKETS);
  const stopping = new AbortController();
  const onMessage = options.onMessage;
  const loop = consumeLoop(connection.queue(exchange, queueName), {
    max: options.prefetch,
    waitMs: pullWaitMs,
    signal: stopping.signal,
    onReceive:
      onMessage === undefined
        ? undefined
        : (messages, receivedAtMs) => {
            for (const message of messages) onMessage(Number(message.headers[STAMP_HEADER]), receivedAtMs);
          },
    onAcked: options.onAcked,
  });
  return consumerHandle(connection, loop, stopping);
}

/** A running consumer loop as the workloads hold it: its failure, its requests, and stop(). */
function consumerHandle(connection: Connection, loop: Promise<void>, stopping: AbortController): BenchConsumer {
  // Only the failure is reported here; the loop's normal end is awaited by stop().
  const failed = loop.then(
    () => new Promise<never>(() => {}),
    (error: unknown) => Promise.reject(error),
  );
  failed.catch(() => {});
  let stopped: Promise<void> | undefined;
  return {
    failed,
    requests: () => connection.stats().requests,
    stop() {
      stopped ??= (async () => {
        stopping.abort();
        try {
          await loop;
        } finally {
          await closeAll([connection]);
        }
      })();
      return stopped;
    },
  };
}
