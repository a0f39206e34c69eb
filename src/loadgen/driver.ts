/**
 * What the workloads need from a broker, so that mombroker and its peers (RabbitMQ, NATS
 * JetStream) run the very same workload code: fresh queues, producers that publish one
 * persistent message at a time and learn when the broker confirmed it, and consumers that
 * get at most `prefetch` unacked messages and ack each one. Each producer and consumer is one
 * client application with its own connection.
 */

export interface BenchDriver {
  /** As printed in the report: `mombroker`, `RabbitMQ classic`, `NATS JetStream R1`, … */
  readonly name: string;
  /** One line on what exactly is measured (queue type, durability, replication). */
  readonly description: string;
  /** The server processes to measure CPU on (all of them, on every node). */
  readonly pids: () => number[];
  /** Declares a queue (or stream) nobody used before and returns its name. */
  freshQueue(prefix: string): Promise<string>;
  /** Best effort: a phase's leftovers should not weigh on the next one. */
  deleteQueue(name: string): Promise<void>;
  openProducer(queue: string): Promise<BenchProducer>;
  openConsumer(queue: string, options: ConsumerOptions): Promise<BenchConsumer>;
  /** Closes the driver's own admin connection (not the broker). */
  close(): Promise<void>;
}

export interface BenchProducer {
  /**
   * Publishes one persistent message of the configured payload size; resolves once the broker
   * confirmed it (stored durably, as far as the broker's confirmation promises). `stamp` (a
   * number: the latency workload sends the message's index), when given, travels in a header
   * and comes back in the consumer's `onMessage`.
   */
  publish(stamp?: number): Promise<void>;
  /** Requests sent so far, where the protocol has requests (mombroker's HTTP). */
  requests?(): number;
  close(): Promise<void>;
}

export interface ConsumerOptions {
  /** At most this many delivered and unacked messages (mombroker: messages per pull). */
  prefetch: number;
  /**
   * Called for every delivered message as soon as the client library hands it over, with the
   * `stamp` it was published with (NaN when it had none) and the time it arrived (nowMs()).
   */
  onMessage?: (stamp: number, receivedAtMs: number) => void;
  /** Messages acked: when the ack was answered (mombroker) or sent (protocols without answers). */
  onAcked: (count: number) => void;
}

export interface BenchConsumer {
  /** Stops taking messages, acks what it received, closes; resolves when done. Idempotent. */
  stop(): Promise<void>;
  /** Rejects on the consumer's first failure (never resolves otherwise before stop). */
  readonly failed: Promise<never>;
  requests?(): number;
}

/** The header that carries a message's stamp (as decimal text). */
export const STAMP_HEADER = 't';
