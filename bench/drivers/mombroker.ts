/**
 * mombroker through its TypeScript SDK, over loopback HTTP: one SDK connection per producer
 * and per consumer, as separate client applications. Publishes made in one event-loop turn
 * travel in one request (the SDK's batching); the consumer is the pull loop of workload.ts.
 */
import type { Connection } from '../../src/client';
import { closeAll, consumeLoop, declareFreshQueue, deleteQueueQuietly, makePayload, openConnection, type Target } from '../workload';
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
  /** How long a pull waits for messages (long poll). */
  pullWaitMs: number;
  pids: () => number[];
  name?: string;
  description?: string;
}

/**
 * The consumer mombroker's workloads use. mombroker has no push consumer yet, so this is the
 * SDK's pull (long poll, up to `prefetch` messages per pull, acks in the background). When the
 * SDK's stream `consume()` (GET …/queues/{q}/stream, Server-Sent Events) lands, point this one
 * line at a stream consumer with the same signature, and every workload follows.
 */
const startConsumer = startPullConsumer;

export function mombrokerDriver(options: MombrokerDriverOptions): BenchDriver {
  const { target, admin, exchange } = options;
  const payload = makePayload(options.payloadBytes);
  return {
    name: options.name ?? 'mombroker',
    description: options.description ?? 'SDK over HTTP, fsync before acknowledging; consumer pulls (long poll)',
    pids: options.pids,
    freshQueue: (prefix) => declareFreshQueue(admin, exchange, prefix),
    deleteQueue: (name) => deleteQueueQuietly(admin, exchange, name),
    async openProducer(queueName): Promise<BenchProducer> {
      const connection = await openConnection(target, PRODUCER_SOCKETS);
      const queue = connection.queue(exchange, queueName);
      return {
        async publish(stamp) {
          await queue.publish(payload, stamp === undefined ? undefined : { headers: { [STAMP_HEADER]: String(stamp) } });
        },
        requests: () => connection.stats().requests,
        close: () => closeAll([connection]),
      };
    },
    openConsumer: (queueName, consumerOptions) => startConsumer(target, exchange, queueName, consumerOptions, options.pullWaitMs),
    close: async () => {},
  };
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
