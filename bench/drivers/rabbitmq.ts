/**
 * RabbitMQ through amqplib (AMQP 0-9-1), as its users run it for durable messaging: a durable
 * queue (classic, or quorum: Raft-replicated), persistent messages (delivery mode 2) published
 * on a confirm channel — the confirmation comes once the message is on disk (classic) or
 * committed by a quorum of the queue's members (quorum) — and consumers with `prefetch`
 * (basic.qos) that ack every message (basic.ack, as RabbitMQ's PerfTest does by default).
 * Each producer and consumer has its own connection.
 */
import amqp from 'amqplib';
import { randomUUID } from 'node:crypto';
import { nowMs } from '../../src/loadgen/workload';
import { STAMP_HEADER, type BenchConsumer, type BenchDriver, type BenchProducer, type ConsumerOptions } from '../../src/loadgen/driver';

export type RabbitQueueType = 'classic' | 'quorum';

export interface RabbitDriverOptions {
  name: string;
  description: string;
  /** amqp://user:pass@127.0.0.1:port */
  url: string;
  queueType: RabbitQueueType;
  payloadBytes: number;
  pids: () => number[];
}

function queueArguments(type: RabbitQueueType): Record<string, string> {
  return type === 'quorum' ? { 'x-queue-type': 'quorum' } : {};
}

/** A promise that rejects with the connection's or channel's first error, or an unexpected close. */
function watchFailure(emitters: Array<{ on(event: string, listener: (error?: Error) => void): unknown }>, closing: () => boolean): Promise<never> {
  const failed = new Promise<never>((_, reject) => {
    for (const emitter of emitters) {
      emitter.on('error', (error?: Error) => reject(error ?? new Error('amqp error')));
      emitter.on('close', () => {
        if (!closing()) reject(new Error('the AMQP connection closed unexpectedly'));
      });
    }
  });
  failed.catch(() => {});
  return failed;
}

export function rabbitDriver(options: RabbitDriverOptions): BenchDriver {
  const payload = Buffer.alloc(options.payloadBytes, 'mombroker-bench-payload-');
  const args = queueArguments(options.queueType);
  /** One short-lived admin connection per declare or delete: a failed operation closes its channel. */
  const withChannel = async <T>(work: (channel: amqp.Channel) => Promise<T>): Promise<T> => {
    const connection = await amqp.connect(options.url);
    connection.on('error', () => {});
    try {
      const channel = await connection.createChannel();
      channel.on('error', () => {});
      return await work(channel);
    } finally {
      await connection.close().catch(() => {});
    }
  };
  return {
    name: options.name,
    description: options.description,
    pids: options.pids,
    async freshQueue(prefix) {
      const name = `${prefix}-${randomUUID().slice(0, 8)}`;
      await withChannel((channel) => channel.assertQueue(name, { durable: true, arguments: args }));
      return name;
    },
    async deleteQueue(name) {
      await withChannel((channel) => channel.deleteQueue(name)).catch(() => {});
    },
    async openProducer(queue): Promise<BenchProducer> {
      const connection = await amqp.connect(options.url);
      let closing = false;
      connection.on('error', () => {});
      const channel = await connection.createConfirmChannel();
      channel.on('error', () => {});
      // amqplib calls back every unconfirmed publish with an error when the channel closes.
      return {
        publish(stamp) {
          return new Promise<void>((resolve, reject) => {
            const headers = stamp === undefined ? undefined : { [STAMP_HEADER]: String(stamp) };
            // The return value asks to wait for 'drain'; the workloads' own bounds on
            // unconfirmed publishes keep the write buffer bounded instead.
            channel.sendToQueue(queue, payload, { persistent: true, headers }, (error: unknown) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve()));
          });
        },
        async close() {
          if (closing) return;
          closing = true;
          await connection.close().catch(() => {});
        },
      };
    },
    openConsumer: (queue, consumerOptions) => startConsumer(options.url, queue, consumerOptions),
    close: async () => {},
  };
}

async function startConsumer(url: string, queue: string, options: ConsumerOptions): Promise<BenchConsumer> {
  const connection = await amqp.connect(url);
  let closing = false;
  connection.on('error', () => {});
  const channel = await connection.createChannel();
  channel.on('error', () => {});
  const failed = watchFailure([connection, channel], () => closing);
  await channel.prefetch(options.prefetch);
  const { onMessage, onAcked } = options;
  const { consumerTag } = await channel.consume(
    queue,
    (message) => {
      if (message === null) return; // cancelled by the server
      if (onMessage !== undefined) onMessage(Number(message.properties.headers?.[STAMP_HEADER]), nowMs());
      channel.ack(message);
      onAcked(1);
    },
    { noAck: false },
  );
  let stopped: Promise<void> | undefined;
  return {
    failed,
    stop() {
      stopped ??= (async () => {
        closing = true;
        await channel.cancel(consumerTag).catch(() => {});
        await connection.close().catch(() => {});
      })();
      return stopped;
    },
  };
}
