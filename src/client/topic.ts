/** A topic handle: `conn.topic(exchange, name)`. Publish/subscribe (DESIGN §2). */
import type { ClientContext, Flushable } from './context';
import { declare } from './declare';
import { MomClientError } from './errors';
import { topicPath } from './paths';
import { Publisher, type PublishOptions } from './publisher';
import { Subscription } from './subscription';
import type { DeclareResult, SubscriptionOptions, TopicOptions, WirePublishMessage } from './types';

export class Topic implements Flushable {
  readonly exchange: string;
  readonly name: string;
  private readonly context: ClientContext;
  private readonly path: string;
  private readonly publisher: Publisher;

  constructor(context: ClientContext, exchange: string, name: string) {
    this.context = context;
    this.exchange = exchange;
    this.name = name;
    this.path = topicPath(exchange, name);
    this.publisher = new Publisher(context, `${this.path}/messages`);
  }

  /** PUT: creates it, or finds it with the same options; 409 `conflict` if they differ. */
  declare(options: TopicOptions = {}): Promise<DeclareResult> {
    return declare(this.context, this.path, options);
  }

  async delete(): Promise<void> {
    this.context.assertOpen();
    await this.context.request({ method: 'DELETE', path: this.path, idempotent: true });
  }

  publish(payload: unknown, options?: PublishOptions): Promise<string> {
    return this.publisher.publish(payload, options);
  }

  publishBatch(messages: readonly WirePublishMessage[]): Promise<string[]> {
    return this.publisher.publishBatch(messages);
  }

  /**
   * Creates the subscription (PUT; fine if it exists with the same options) and returns it.
   * The name defaults to the connection's user, as in MOM-py; `from` defaults to "latest".
   */
  async subscribe(name?: string | SubscriptionOptions, options: SubscriptionOptions = {}): Promise<Subscription> {
    if (typeof name === 'object' && name !== null) return this.subscribe(undefined, name);
    this.context.assertOpen();
    if (name !== undefined && (typeof name !== 'string' || name === '')) {
      throw new MomClientError('invalid_argument', 'subscribe: the name must be a non-empty string');
    }
    const subscription = this.subscription(name ?? (await this.context.username()));
    await subscription.declare(options);
    return subscription;
  }

  /** A handle on an existing subscription, without a request. */
  subscription(name: string): Subscription {
    const key = `s\0${this.exchange}\0${this.name}\0${name}`;
    return this.context.handle(key, () => new Subscription(this.context, this.exchange, this.name, name));
  }

  flush(): Promise<void> {
    return this.publisher.flush();
  }
}
