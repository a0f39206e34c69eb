/**
 * NATS JetStream through nats.js: a work-queue stream (a message is removed once acked, as in
 * a queue) on file storage with `replicas` copies, one durable consumer with explicit acks
 * shared by the bench's consumers (a work-queue stream takes one consumer per subject; its
 * clients compete, as consumers of a queue do). Producers publish with `js.publish`, which
 * resolves on the stream's PubAck: stored (R1; JetStream does not fsync it before answering:
 * it syncs its files every 2 minutes by default) or stored by a quorum of replicas (R3). Each
 * consumer is a continuous pull (`consume()`) of at most `prefetch` messages outstanding, and
 * acks each message.
 */
import { randomUUID } from 'node:crypto';
import { AckPolicy, connect, headers, RetentionPolicy, StorageType, type JetStreamManager, type NatsConnection } from 'nats';
import { nowMs } from '../../src/loadgen/workload';
import { STAMP_HEADER, type BenchConsumer, type BenchDriver, type BenchProducer, type ConsumerOptions } from '../../src/loadgen/driver';

export interface NatsDriverOptions {
  name: string;
  description: string;
  /** nats://127.0.0.1:port (a cluster: any of its servers). */
  url: string;
  replicas: number;
  payloadBytes: number;
  pids: () => number[];
}

const DURABLE = 'bench';

function subjectOf(stream: string): string {
  return `bench.${stream}`;
}

/** Resolves with the connection's close error, if it closes with one before `closing()`. */
function watchClose(nc: NatsConnection, closing: () => boolean): Promise<never> {
  const failed = nc.closed().then((error) => {
    if (closing()) return new Promise<never>(() => {});
    throw error ?? new Error('the NATS connection closed unexpectedly');
  });
  failed.catch(() => {});
  return failed;
}

export function natsDriver(options: NatsDriverOptions): BenchDriver {
  const payload = new Uint8Array(Buffer.alloc(options.payloadBytes, 'mombroker-bench-payload-'));
  let admin: { nc: NatsConnection; jsm: JetStreamManager } | undefined;
  const manager = async (): Promise<JetStreamManager> => {
    if (admin === undefined) {
      const nc = await connect({ servers: options.url, name: 'bench-admin' });
      admin = { nc, jsm: await nc.jetstreamManager() };
    }
    return admin.jsm;
  };
  /** Consumers opened per stream: the durable's max_ack_pending is prefetch × this. */
  const consumersOpened = new Map<string, number>();
  return {
    name: options.name,
    description: options.description,
    pids: options.pids,
    async freshQueue(prefix) {
      const name = `${prefix}-${randomUUID().slice(0, 8)}`;
      const jsm = await manager();
      await jsm.streams.add({ name, subjects: [subjectOf(name)], storage: StorageType.File, num_replicas: options.replicas, retention: RetentionPolicy.Workqueue });
      return name;
    },
    async deleteQueue(name) {
      consumersOpened.delete(name);
      try {
        await (await manager()).streams.delete(name);
      } catch {
        // The run's numbers are already taken.
      }
    },
    async openProducer(stream): Promise<BenchProducer> {
      const nc = await connect({ servers: options.url, name: 'bench-producer' });
      const js = nc.jetstream();
      const subject = subjectOf(stream);
      return {
        async publish(stamp) {
          let hdrs;
          if (stamp !== undefined) {
            hdrs = headers();
            hdrs.set(STAMP_HEADER, String(stamp));
          }
          await js.publish(subject, payload, { headers: hdrs });
        },
        async close() {
          if (!nc.isClosed()) await nc.close();
        },
      };
    },
    async openConsumer(stream, consumerOptions) {
      const jsm = await manager();
      // The server-side bound on unacked messages, like RabbitMQ's per-consumer basic.qos summed.
      const count = (consumersOpened.get(stream) ?? 0) + 1;
      consumersOpened.set(stream, count);
      const maxAckPending = consumerOptions.prefetch * count;
      if (count === 1) await jsm.consumers.add(stream, { durable_name: DURABLE, ack_policy: AckPolicy.Explicit, max_ack_pending: maxAckPending });
      else await jsm.consumers.update(stream, DURABLE, { max_ack_pending: maxAckPending });
      return startConsumer(options.url, stream, consumerOptions);
    },
    async close() {
      if (admin !== undefined && !admin.nc.isClosed()) await admin.nc.close();
      admin = undefined;
    },
  };
}

async function startConsumer(url: string, stream: string, options: ConsumerOptions): Promise<BenchConsumer> {
  const nc = await connect({ servers: url, name: 'bench-consumer' });
  let closing = false;
  const consumer = await nc.jetstream().consumers.get(stream, DURABLE);
  const { onMessage, onAcked } = options;
  const messages = await consumer.consume({
    max_messages: options.prefetch,
    callback: (message) => {
      if (onMessage !== undefined) onMessage(Number(message.headers?.get(STAMP_HEADER)), nowMs());
      message.ack();
      onAcked(1);
    },
  });
  const failed = Promise.race([
    watchClose(nc, () => closing),
    messages.closed().then((error) => {
      if (closing) return new Promise<never>(() => {});
      throw error ?? new Error('the JetStream consumer stopped unexpectedly');
    }),
  ]);
  failed.catch(() => {});
  let stopped: Promise<void> | undefined;
  return {
    failed,
    stop() {
      stopped ??= (async () => {
        closing = true;
        messages.stop();
        // Acks already written are sent before the connection closes.
        await nc.flush().catch(() => {});
        if (!nc.isClosed()) await nc.close();
      })();
      return stopped;
    },
  };
}
