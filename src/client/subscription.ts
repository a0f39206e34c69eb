/**
 * A subscription to a topic: sees every message published after it was created (or from the
 * earliest retained one); its consumers compete, as in a consumer group (DESIGN §2).
 */
import type { ClientContext, Flushable } from './context';
import { MessageSource, type ConsumeOptions, type DeadLettersOptions, type PullOptions } from './consumer';
import type { Message, NackOptions } from './message';
import { subscriptionPath } from './paths';
import { declare } from './declare';
import { deleteDeadLetters, purge, redrive } from './repair';
import type { AckResult, DeclareResult, NackResult, QueueStats, SubscriptionOptions, WireDeadLetter } from './types';

export class Subscription implements Flushable {
  readonly exchange: string;
  readonly topic: string;
  readonly name: string;
  private readonly context: ClientContext;
  private readonly path: string;
  private readonly source: MessageSource;

  constructor(context: ClientContext, exchange: string, topic: string, name: string) {
    this.context = context;
    this.exchange = exchange;
    this.topic = topic;
    this.name = name;
    this.path = subscriptionPath(exchange, topic, name);
    this.source = new MessageSource(context, this.path);
  }

  /**
   * PUT: creates it (created: true) starting at `from` (default "latest"), or keeps the
   * existing one as it is.
   */
  declare(options: SubscriptionOptions = {}): Promise<DeclareResult> {
    return declare(this.context, this.path, options);
  }

  /** Removes the subscription and its pending messages. */
  async delete(): Promise<void> {
    this.context.assertOpen();
    await this.context.request({ method: 'DELETE', path: this.path, idempotent: true });
  }

  /** `{depth, in_flight, dead_letters, partition, leader}` of this subscription. */
  stats(): Promise<QueueStats> {
    return this.source.stats();
  }

  deadLetters(options?: DeadLettersOptions): Promise<WireDeadLetter[]> {
    return this.source.deadLetters(options);
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

  flush(): Promise<void> {
    return this.source.flush();
  }
}
