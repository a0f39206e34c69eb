/** A queue handle: `conn.queue(exchange, name)`. Point to point: consumers compete (DESIGN §2). */
import type { ClientContext, Flushable } from './context';
import { MessageSource, type ConsumeOptions, type DeadLettersOptions, type PullOptions } from './consumer';
import { declare } from './declare';
import { deleteDeadLetters, purge, redrive } from './repair';
import type { Message, NackOptions } from './message';
import { queuePath } from './paths';
import { Publisher, type PublishOptions } from './publisher';
import type { AckResult, DeclareResult, NackResult, QueueOptions, QueueStats, WireDeadLetter, WirePublishMessage } from './types';

export class Queue implements Flushable {
  readonly exchange: string;
  readonly name: string;
  private readonly context: ClientContext;
  private readonly path: string;
  private readonly publisher: Publisher;
  private readonly source: MessageSource;

  constructor(context: ClientContext, exchange: string, name: string) {
    this.context = context;
    this.exchange = exchange;
    this.name = name;
    this.path = queuePath(exchange, name);
    this.publisher = new Publisher(context, `${this.path}/messages`);
    this.source = new MessageSource(context, this.path);
  }

  /** PUT: creates it (created: true), or finds it with the same options; 409 `conflict` if they differ. */
  declare(options: QueueOptions = {}): Promise<DeclareResult> {
    return declare(this.context, this.path, options);
  }

  async delete(): Promise<void> {
    this.context.assertOpen();
    await this.context.request({ method: 'DELETE', path: this.path, idempotent: true });
  }

  /** `{depth, in_flight, dead_letters, partition, leader}`. */
  stats(): Promise<QueueStats> {
    return this.source.stats();
  }

  /** Messages moved to the queue's dead letters, oldest first. */
  deadLetters(options?: DeadLettersOptions): Promise<WireDeadLetter[]> {
    return this.source.deadLetters(options);
  }

  /** Resolves the message id. Concurrent publishes are sent together in one request. */
  publish(payload: unknown, options?: PublishOptions): Promise<string> {
    return this.publisher.publish(payload, options);
  }

  publishBatch(messages: readonly WirePublishMessage[]): Promise<string[]> {
    return this.publisher.publishBatch(messages);
  }

  /**
   * Removes the messages ready for delivery (`POST …/purge`, needs configure); the leased ones
   * stay with their consumers. Resolves how many were removed.
   */
  purge(): Promise<number> {
    return purge(this.context, this.path);
  }

  /**
   * Makes dead letters deliverable again (all of them, or those with `ids`), with their
   * deliveries counted afresh; needs configure. Resolves how many.
   */
  redrive(ids?: readonly string[]): Promise<number> {
    return redrive(this.context, this.path, ids);
  }

  /** Deletes dead letters (all of them, or those with `ids`); needs configure. Resolves how many. */
  deleteDeadLetters(ids?: readonly string[]): Promise<number> {
    return deleteDeadLetters(this.context, this.path, ids);
  }

  pull(options?: PullOptions): Promise<Message[]> {
    return this.source.pull(options);
  }

  consume(options?: ConsumeOptions): AsyncGenerator<Message, void, undefined> {
    return this.source.consume(options);
  }

  ack(ids: readonly string[]): Promise<AckResult> {
    return this.source.ack(ids);
  }

  nack(ids: readonly string[], options?: NackOptions): Promise<NackResult> {
    return this.source.nack(ids, options);
  }

  /** Sends buffered publishes and acks now; resolves when they are answered. */
  async flush(): Promise<void> {
    await Promise.all([this.publisher.flush(), this.source.flush()]);
  }
}
