import { randomUUID } from 'node:crypto';
import {
  queueInboxKey,
  sameOptions,
  subscriptionInboxKey,
  targetKey,
  type LogEntry,
  type QueueOptions,
  type SettleOutcome,
  type SubscriptionStart,
  type TargetKind,
  type TopicOptions,
} from '../../core/entries';
import { MomError } from '../../core/errors';
import type { PublishInput } from '../../core/requests';
import type { Logger } from '../../runtime/logger';
import type { InboxRecord } from '../../store/catalog';
import type { DeadLetterRow, MessageRow, NodeStore } from '../../store/node-store';
import type { ApplyEffect } from '../../store/state-applier';
import type { AckMode, CommitLog } from './commit-log';
import { InboxDelivery, type Lease, type PullWaiter, type UnreadBudget } from './inbox-delivery';
import { ProducerIds } from './producer-ids';

export interface DeliveredMessage extends MessageRow {
  deliveries: number;
}

export interface PublishResult {
  ids: string[];
  duplicates: number;
}

export interface SettleSummary {
  settled: number;
  unknown: string[];
}

export interface InboxStats {
  depth: number;
  in_flight: number;
  dead_letters: number;
}

export interface PullRequest {
  max: number;
  waitMs: number;
  leaseMs: number;
  /** The user id of the consumer: the leases taken are its own (DESIGN §7). */
  owner: number;
  signal?: AbortSignal;
}

export interface EngineOptions {
  dedupWindowMs: number;
  logger: Logger;
  /** Memory for unread lists (see InboxDelivery), shared by every partition this node leads. */
  unreadBudget: UnreadBudget;
}

/**
 * A partition on its leader: turns client operations into log entries, commits them, and
 * keeps the leader-local delivery state (leases, redelivery order, long-poll waiters) in step
 * with what the log's application changed.
 */
export class PartitionEngine {
  private readonly deliveries = new Map<number, InboxDelivery>();
  private readonly producerIds: ProducerIds;
  private closed = false;
  /** Shutting down: long polls answer at once instead of waiting again. */
  private draining = false;

  constructor(
    private readonly store: NodeStore,
    private readonly log: CommitLog,
    private readonly options: EngineOptions,
  ) {
    this.producerIds = new ProducerIds(store, options.dedupWindowMs);
    log.onApplied((effects) => {
      for (const effect of effects) this.onEffect(effect);
    });
  }

  get partition(): number {
    return this.log.partition;
  }

  get epoch(): number {
    return this.log.epoch;
  }

  compactionFloor(): number {
    return this.log.compactionFloor();
  }

  get commitLog(): CommitLog {
    return this.log;
  }

  // ---- Declarations ----

  async declareQueue(exchange: string, queue: string, options: QueueOptions): Promise<boolean> {
    const existing = this.store.catalog.inbox(queueInboxKey(exchange, queue));
    if (existing) return this.sameOrConflict(existing.options, options, `queue ${exchange}/${queue}`);
    await this.commit([{ type: 'queue.declare', exchange, queue, options, at: Date.now() }]);
    return true;
  }

  async deleteQueue(exchange: string, queue: string): Promise<void> {
    this.requireQueue(exchange, queue);
    await this.commit([{ type: 'queue.delete', exchange, queue }]);
  }

  async declareTopic(exchange: string, topic: string, options: TopicOptions): Promise<boolean> {
    const existing = this.store.catalog.topic(exchange, topic);
    if (existing) return this.sameOrConflict(existing.options, options, `topic ${exchange}/${topic}`);
    await this.commit([{ type: 'topic.declare', exchange, topic, options, at: Date.now() }]);
    return true;
  }

  async deleteTopic(exchange: string, topic: string): Promise<void> {
    this.requireTopic(exchange, topic);
    await this.commit([{ type: 'topic.delete', exchange, topic }]);
  }

  /** Creates the subscription; an existing one is kept as it is (its start point cannot change). */
  async subscribe(exchange: string, topic: string, subscription: string, from: SubscriptionStart): Promise<boolean> {
    this.requireTopic(exchange, topic);
    if (this.store.catalog.inbox(subscriptionInboxKey(exchange, topic, subscription))) return false;
    await this.commit([{ type: 'subscription.create', exchange, topic, subscription, from, at: Date.now() }]);
    return true;
  }

  async unsubscribe(exchange: string, topic: string, subscription: string): Promise<void> {
    this.requireInbox(subscriptionInboxKey(exchange, topic, subscription));
    await this.commit([{ type: 'subscription.delete', exchange, topic, subscription }]);
  }

  async purgeExchange(exchange: string): Promise<void> {
    const { topics, inboxes } = this.store.catalog.ofExchange(this.partition, exchange);
    if (topics.length === 0 && inboxes.length === 0) return;
    await this.commit([{ type: 'exchange.purge', exchange }]);
  }

  // ---- Publish ----

  async publish(target: TargetKind, exchange: string, name: string, inputs: PublishInput[], acks: AckMode): Promise<PublishResult> {
    let maxLength: number | null = null;
    let delivery: InboxDelivery | undefined;
    if (target === 'queue') {
      const inbox = this.requireQueue(exchange, name);
      maxLength = inbox.options.max_length;
      delivery = this.delivery(inbox);
    } else {
      this.requireTopic(exchange, name);
    }
    const key = targetKey(target, exchange, name);
    const now = Date.now();
    const ids = new Array<string>(inputs.length);
    const entries: LogEntry[] = [];
    const claimed: string[] = [];
    let duplicates = 0;
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i]!;
      if (input.producerId !== undefined) {
        const original = this.producerIds.find(key, input.producerId, now);
        if (original !== undefined) {
          ids[i] = original;
          duplicates++;
          continue;
        }
        claimed.push(this.producerIds.claim(key, input.producerId));
      }
      const id = input.producerId ?? randomUUID();
      ids[i] = id;
      entries.push({
        type: 'publish',
        target,
        exchange,
        name,
        message: { id, producerId: input.producerId, payload: input.payload, headers: input.headers, publishedAt: now },
      });
    }
    if (maxLength !== null && delivery && delivery.readyCount + entries.length > maxLength) {
      this.producerIds.release(claimed);
      throw new MomError('queue_full', `queue ${exchange}/${name} is full (max_length ${maxLength}); consume or retry later`);
    }
    if (entries.length > 0) {
      try {
        await this.commit(entries, acks);
      } finally {
        this.producerIds.release(claimed);
      }
    }
    return { ids, duplicates };
  }

  // ---- Consume ----

  async pull(inboxKey: string, request: PullRequest): Promise<DeliveredMessage[]> {
    const inbox = this.requireInbox(inboxKey);
    const delivery = this.delivery(inbox);
    const deadline = Date.now() + request.waitMs;
    for (;;) {
      const messages = this.takeReady(delivery, request.max, request.leaseMs, request.owner);
      if (messages.length > 0 || request.waitMs === 0) return messages;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || this.closed || this.draining || request.signal?.aborted) return [];
      await this.waitForMessages(delivery, remaining, request);
      if (this.deliveries.get(inbox.id) !== delivery) throw notFound(inbox);
    }
  }

  private waitForMessages(delivery: InboxDelivery, remainingMs: number, request: PullRequest): Promise<void> {
    return new Promise<void>((resolve) => {
      const onAbort = () => finish();
      const finish = () => {
        clearTimeout(waiter.timer);
        const index = delivery.waiters.indexOf(waiter);
        if (index >= 0) delivery.waiters.splice(index, 1);
        request.signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const waiter: PullWaiter = { max: request.max, leaseMs: request.leaseMs, timer: setTimeout(finish, remainingMs), resolve: finish };
      delivery.waiters.push(waiter);
      request.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Leases up to `max` deliverable messages: redeliveries first, then first deliveries in offset order. */
  private takeReady(delivery: InboxDelivery, max: number, leaseMs: number, owner: number): DeliveredMessage[] {
    const inbox = delivery.inbox;
    const now = Date.now();
    const ttl = inbox.options.message_ttl_ms;
    const out: DeliveredMessage[] = [];
    const expired: number[] = [];
    const accept = (row: MessageRow) => {
      if (ttl !== null && row.ts + ttl < now) {
        expired.push(row.msg);
        return;
      }
      if (delivery.leases.has(row.msg_id)) {
        // A producer id reused after the dedup window while its namesake is leased: wait for it.
        delivery.requeue(row.msg);
        return;
      }
      const lease: Lease = { msg: row.msg, id: row.msg_id, failures: row.failures, deadline: now + leaseMs, owner };
      delivery.lease(lease);
      out.push({ ...row, deliveries: row.failures + 1 });
    };
    while (out.length < max && delivery.redeliver.length > 0) {
      const msg = delivery.redeliver.shift()!;
      const row = this.store.pendingMessage(this.partition, inbox.id, msg);
      if (row) accept(row);
    }
    const deliverFirst = (row: MessageRow) => {
      delivery.cursor = row.msg;
      if (!delivery.leasedMsgs.has(row.msg)) accept(row);
    };
    while (out.length < max) {
      const row = delivery.takeUnread();
      if (!row) break;
      deliverFirst(row);
    }
    while (out.length < max && !delivery.knowsUnread) {
      const wanted = max - out.length;
      const rows = this.store.readyAfter(this.partition, inbox.id, delivery.cursor, wanted);
      if (rows.length < wanted) delivery.knowNothingUnread();
      for (const row of rows) deliverFirst(row);
      if (rows.length === 0 || expired.length === 0) break;
    }
    if (expired.length > 0) this.settleInBackground(inbox, expired, 'dead', 'expired');
    return out;
  }

  /** `owner`: the user id acking; ids leased to another consumer are `unknown` (DESIGN §7). */
  async ack(inboxKey: string, ids: string[], owner: number): Promise<SettleSummary> {
    return this.settle(inboxKey, ids, 'ack', 'nack', owner);
  }

  async nack(inboxKey: string, ids: string[], requeue: boolean, owner: number): Promise<SettleSummary> {
    return this.settle(inboxKey, ids, requeue ? 'retry' : 'dead', requeue ? 'nack' : 'rejected', owner);
  }

  private async settle(inboxKey: string, ids: string[], outcome: SettleOutcome, reason: 'nack' | 'rejected', owner: number): Promise<SettleSummary> {
    const inbox = this.requireInbox(inboxKey);
    const delivery = this.delivery(inbox);
    const released: Lease[] = [];
    const unknown: string[] = [];
    for (const id of ids) {
      // Another consumer's lease is not ours to settle: `unknown`, and left as it is.
      const lease = delivery.releaseOwned(id, owner);
      if (lease) released.push(lease);
      else unknown.push(id);
    }
    if (released.length > 0) {
      try {
        await this.commit([{ type: 'settle', inbox: inbox.key, messages: released.map((l) => l.msg), outcome, reason, at: Date.now() }]);
      } catch (error) {
        // Not settled: make the messages deliverable again rather than losing track of them.
        for (const lease of released) delivery.requeue(lease.msg);
        throw error;
      }
    }
    return { settled: released.length, unknown };
  }

  /** Expired leases go back to their inbox with one more failed delivery (DESIGN §2). */
  sweepLeases(now: number): void {
    for (const delivery of this.deliveries.values()) {
      if (delivery.leases.size === 0) continue;
      const expired = delivery.takeExpired(now);
      if (expired.length > 0) this.settleInBackground(delivery.inbox, expired.map((l) => l.msg), 'retry', 'lease_expired');
    }
  }

  private settleInBackground(inbox: InboxRecord, msgs: number[], outcome: SettleOutcome, reason: 'lease_expired' | 'expired'): void {
    this.commit([{ type: 'settle', inbox: inbox.key, messages: msgs, outcome, reason, at: Date.now() }]).catch((error: unknown) => {
      const delivery = this.deliveries.get(inbox.id);
      if (delivery) for (const msg of msgs) delivery.requeue(msg);
      this.options.logger.warn('could not settle messages; they stay deliverable', { inbox: inbox.key, reason, error });
    });
  }

  // ---- Reads ----

  stats(inboxKey: string): InboxStats {
    const inbox = this.requireInbox(inboxKey);
    const counts = this.store.counts(inbox.id);
    const inFlight = this.deliveries.get(inbox.id)?.leases.size ?? 0;
    return { depth: Math.max(0, counts.ready - inFlight), in_flight: inFlight, dead_letters: counts.dead };
  }

  deadLetters(inboxKey: string, afterMsg: number, limit: number): DeadLetterRow[] {
    const inbox = this.requireInbox(inboxKey);
    return this.store.deadLetters(this.partition, inbox.id, afterMsg, limit);
  }

  inbox(inboxKey: string): InboxRecord {
    return this.requireInbox(inboxKey);
  }

  // ---- Commit and its effects ----

  private async commit(entries: LogEntry[], acks: AckMode = 'all'): Promise<void> {
    if (this.closed) throw new MomError('unavailable', `partition ${this.partition} is no longer led here; retry`);
    await this.log.commit(entries, acks);
  }

  private onEffect(effect: ApplyEffect): void {
    switch (effect.kind) {
      case 'published':
        for (const inboxId of effect.inboxes) {
          const delivery = this.deliveries.get(inboxId);
          if (!delivery) continue;
          delivery.readyCount++;
          delivery.addUnread(effect.msg, effect.message);
          wakeWaiters(delivery);
        }
        return;
      case 'settled': {
        const delivery = this.deliveries.get(effect.inbox);
        if (!delivery) return;
        let woke = false;
        for (const result of effect.results) {
          if (result.state === 'ready') {
            // Past the cursor, the first-delivery read of the store finds it again.
            if (result.msg > delivery.cursor) delivery.forgetUnread();
            delivery.requeue(result.msg);
            woke = true;
          } else if (result.state === 'gone' || result.state === 'dead') {
            delivery.readyCount = Math.max(0, delivery.readyCount - 1);
          }
        }
        if (woke) wakeWaiters(delivery);
        return;
      }
      case 'inbox_deleted':
        this.dropDelivery(effect.inbox.id);
        return;
      case 'purged':
        for (const inbox of effect.inboxes) this.dropDelivery(inbox.id);
        return;
      case 'inbox_created':
      case 'none':
        return;
    }
  }

  private delivery(inbox: InboxRecord): InboxDelivery {
    let delivery = this.deliveries.get(inbox.id);
    if (!delivery) {
      delivery = new InboxDelivery(inbox, this.options.unreadBudget);
      delivery.readyCount = this.store.counts(inbox.id).ready;
      this.deliveries.set(inbox.id, delivery);
    }
    return delivery;
  }

  private dropDelivery(inboxId: number): void {
    const delivery = this.deliveries.get(inboxId);
    if (!delivery) return;
    this.deliveries.delete(inboxId);
    delivery.close();
  }

  private requireQueue(exchange: string, queue: string): InboxRecord {
    const inbox = this.store.catalog.inbox(queueInboxKey(exchange, queue));
    if (!inbox) throw new MomError('queue_not_found', `queue ${exchange}/${queue} does not exist; declare it with PUT /v1/exchanges/${exchange}/queues/${queue}`);
    return inbox;
  }

  private requireTopic(exchange: string, topic: string): void {
    if (!this.store.catalog.topic(exchange, topic)) {
      throw new MomError('topic_not_found', `topic ${exchange}/${topic} does not exist; declare it with PUT /v1/exchanges/${exchange}/topics/${topic}`);
    }
  }

  private requireInbox(inboxKey: string): InboxRecord {
    const inbox = this.store.catalog.inbox(inboxKey);
    if (!inbox) {
      const [kind, path] = [inboxKey.slice(0, 1), inboxKey.slice(2)];
      throw kind === 'q'
        ? new MomError('queue_not_found', `queue ${path} does not exist`)
        : new MomError('subscription_not_found', `subscription ${path} does not exist; create it with PUT .../subscriptions/{name}`);
    }
    return inbox;
  }

  private sameOrConflict(existing: object, wanted: object, what: string): false {
    if (!sameOptions(existing, wanted)) {
      throw new MomError('conflict', `${what} exists with other options ${JSON.stringify(existing)}; delete it first or declare it with the same options`);
    }
    return false;
  }

  /** Answers every waiting long poll now (empty), for a shutdown that drains requests. */
  wakeAllWaiters(): void {
    this.draining = true;
    for (const delivery of this.deliveries.values()) delivery.cancelWaiters();
  }

  /** Stops leading: wakes long polls (they answer empty) and refuses new work. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.log.close();
    for (const delivery of this.deliveries.values()) delivery.close();
    this.deliveries.clear();
  }
}

function wakeWaiters(delivery: InboxDelivery): void {
  if (delivery.waiters.length === 0) return;
  for (const waiter of delivery.waiters.splice(0)) waiter.resolve();
}

function notFound(inbox: InboxRecord): MomError {
  return new MomError(inbox.kind === 'queue' ? 'queue_not_found' : 'subscription_not_found', `${inbox.kind} ${inbox.key.slice(2)} was deleted`);
}
