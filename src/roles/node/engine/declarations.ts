import { queueInboxKey, sameOptions, subscriptionInboxKey, type QueueOptions, type SubscriptionStart, type TopicOptions } from '../../../core/entries';
import { MomError } from '../../../core/errors';
import type { LeaderPartition } from './leader-partition';

/**
 * Declarations and deletions on a partition's leader: each a log entry, so every replica
 * creates and drops the same queues, topics and subscriptions (DESIGN §3). A declaration of
 * something that exists with the same options changes nothing; with other options, 409.
 */
export class Declarations {
  constructor(private readonly partition: LeaderPartition) {}

  /** True when created, false when it existed with the same options. */
  async declareQueue(exchange: string, queue: string, options: QueueOptions): Promise<boolean> {
    const existing = this.partition.store.catalog.inbox(queueInboxKey(exchange, queue));
    if (existing) return sameOrConflict(existing.options, options, `queue ${exchange}/${queue}`);
    await this.partition.commit([{ type: 'queue.declare', exchange, queue, options, at: Date.now() }]);
    return true;
  }

  async deleteQueue(exchange: string, queue: string): Promise<void> {
    this.partition.requireQueue(exchange, queue);
    await this.partition.commit([{ type: 'queue.delete', exchange, queue }]);
  }

  async declareTopic(exchange: string, topic: string, options: TopicOptions): Promise<boolean> {
    const existing = this.partition.store.catalog.topic(exchange, topic);
    if (existing) return sameOrConflict(existing.options, options, `topic ${exchange}/${topic}`);
    await this.partition.commit([{ type: 'topic.declare', exchange, topic, options, at: Date.now() }]);
    return true;
  }

  async deleteTopic(exchange: string, topic: string): Promise<void> {
    this.partition.requireTopic(exchange, topic);
    await this.partition.commit([{ type: 'topic.delete', exchange, topic }]);
  }

  /** Creates the subscription; an existing one is kept as it is (its start point cannot change). */
  async subscribe(exchange: string, topic: string, subscription: string, from: SubscriptionStart): Promise<boolean> {
    this.partition.requireTopic(exchange, topic);
    if (this.partition.store.catalog.inbox(subscriptionInboxKey(exchange, topic, subscription))) return false;
    await this.partition.commit([{ type: 'subscription.create', exchange, topic, subscription, from, at: Date.now() }]);
    return true;
  }

  async unsubscribe(exchange: string, topic: string, subscription: string): Promise<void> {
    this.partition.requireInbox(subscriptionInboxKey(exchange, topic, subscription));
    await this.partition.commit([{ type: 'subscription.delete', exchange, topic, subscription }]);
  }

  /** Drops everything of an exchange in this partition (DELETE exchange ?force=true). */
  async purgeExchange(exchange: string): Promise<void> {
    const { topics, inboxes } = this.partition.store.catalog.ofExchange(this.partition.partition, exchange);
    if (topics.length === 0 && inboxes.length === 0) return;
    await this.partition.commit([{ type: 'exchange.purge', exchange }]);
  }
}

function sameOrConflict(existing: object, wanted: object, what: string): false {
  if (!sameOptions(existing, wanted)) {
    throw new MomError('conflict', `${what} exists with other options ${JSON.stringify(existing)}; delete it first or declare it with the same options`);
  }
  return false;
}
