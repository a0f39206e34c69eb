import { queueInboxKey, type LogEntry } from '../../../core/entries';
import { MomError } from '../../../core/errors';
import type { AckMode, CommitLog } from '../../../log/commit-log';
import { closedError } from '../../../runtime/lifecycle';
import type { Logger } from '../../../runtime/logger';
import type { InboxRecord } from '../../../store/catalog';
import type { NodeStore } from '../../../store/node-store';
import type { ApplyEffect } from '../../../store/state-applier';
import { InboxDelivery, type UnreadBudget } from './inbox-delivery';

export interface EngineOptions {
  dedupWindowMs: number;
  logger: Logger;
  /** Memory for unread lists (see InboxDelivery), shared by every partition this node leads. */
  unreadBudget: UnreadBudget;
  /** An idle stream gets a keepalive comment at least this often. */
  streamKeepaliveMs: number;
}

/**
 * What the operations on a partition share on its leader: the store, the commit log, and the
 * leader-local delivery state of each inbox (leases, redelivery order, waiters), kept in step
 * with what applying committed entries changed.
 */
/** Repair counts kept for the operations waiting on them; older ones (their caller gave up) go. */
const REPAIR_RESULTS_KEPT = 1_000;

export class LeaderPartition {
  private readonly deliveries = new Map<number, InboxDelivery>();
  /** How many messages each repair entry acted on, by the entry's offset, until its operation takes it. */
  private readonly repairCounts = new Map<number, number>();
  /** Operations waiting for the effect of their repair entry, by the entry's offset. */
  private readonly repairWaiters = new Map<number, { resolve: (count: number) => void; reject: (error: MomError) => void }>();
  closed = false;
  /** Shutting down: long polls answer at once instead of waiting again. */
  draining = false;

  constructor(
    readonly store: NodeStore,
    readonly log: CommitLog,
    readonly options: EngineOptions,
  ) {
    log.onApplied((effects) => {
      for (const effect of effects) this.onEffect(effect);
    });
  }

  get partition(): number {
    return this.log.partition;
  }

  /** Resolves with the offset of the first entry (see CommitLog.commit). */
  async commit(entries: LogEntry[], acks: AckMode = 'all'): Promise<number> {
    this.assertOpen();
    return this.log.commit(entries, acks);
  }

  /**
   * How many messages the repair entry at `offset` acted on: at once when its effect has
   * arrived (an acks=all commit resolves after its entries are applied, and the applied
   * listener usually ran by then), else when it arrives. Fails with `timeout` (recorded, count
   * unknown: never resent) if this leadership ends first.
   */
  repairCount(offset: number): Promise<number> {
    const known = this.repairCounts.get(offset);
    if (known !== undefined) {
      this.repairCounts.delete(offset);
      return Promise.resolve(known);
    }
    if (this.closed) return Promise.reject(repairOutcomeUnknown(this.partition));
    return new Promise((resolve, reject) => this.repairWaiters.set(offset, { resolve, reject }));
  }

  /** New work on a partition no longer led here fails (runtime/lifecycle.ts). */
  assertOpen(): void {
    if (this.closed) throw closedError(`the leadership of partition ${this.partition} here`);
  }

  /** The delivery state of an inbox, made on first use (counting what is ready in the store). */
  delivery(inbox: InboxRecord): InboxDelivery {
    let delivery = this.deliveries.get(inbox.id);
    if (!delivery) {
      delivery = new InboxDelivery(inbox, this.options.unreadBudget);
      delivery.readyCount = this.store.counts(inbox.id).ready;
      this.deliveries.set(inbox.id, delivery);
    }
    return delivery;
  }

  /** The delivery state of an inbox if it has one (undefined once the inbox was deleted). */
  existingDelivery(inboxId: number): InboxDelivery | undefined {
    return this.deliveries.get(inboxId);
  }

  allDeliveries(): IterableIterator<InboxDelivery> {
    return this.deliveries.values();
  }

  requireQueue(exchange: string, queue: string): InboxRecord {
    const inbox = this.store.catalog.inbox(queueInboxKey(exchange, queue));
    if (!inbox) throw new MomError('queue_not_found', `queue ${exchange}/${queue} does not exist; declare it with PUT /v1/exchanges/${exchange}/queues/${queue}`);
    return inbox;
  }

  requireTopic(exchange: string, topic: string): void {
    if (!this.store.catalog.topic(exchange, topic)) {
      throw new MomError('topic_not_found', `topic ${exchange}/${topic} does not exist; declare it with PUT /v1/exchanges/${exchange}/topics/${topic}`);
    }
  }

  requireInbox(inboxKey: string): InboxRecord {
    const inbox = this.store.catalog.inbox(inboxKey);
    if (!inbox) {
      const [kind, path] = [inboxKey.slice(0, 1), inboxKey.slice(2)];
      throw kind === 'q'
        ? new MomError('queue_not_found', `queue ${path} does not exist`)
        : new MomError('subscription_not_found', `subscription ${path} does not exist; create it with PUT .../subscriptions/{name}`);
    }
    return inbox;
  }

  private onEffect(effect: ApplyEffect): void {
    switch (effect.kind) {
      case 'published':
        for (const inboxId of effect.inboxes) {
          const delivery = this.deliveries.get(inboxId);
          if (!delivery) continue;
          delivery.readyCount++;
          delivery.addUnread(effect.offset, effect.message);
          delivery.wakeWaiters();
        }
        return;
      case 'settled': {
        const delivery = this.deliveries.get(effect.inbox);
        if (!delivery) return;
        let woke = false;
        for (const result of effect.results) {
          // Not pending any more (purged, or settled twice): nothing to count or deliver.
          if (!result.changed) continue;
          if (result.state === 'ready') {
            // Past the cursor, the first-delivery read of the store finds it again.
            if (result.offset > delivery.cursor) delivery.forgetUnread();
            delivery.requeue(result.offset);
            woke = true;
          } else if (result.state === 'gone' || result.state === 'dead') {
            delivery.readyCount = Math.max(0, delivery.readyCount - 1);
          }
        }
        if (woke) delivery.wakeWaiters();
        return;
      }
      case 'repaired':
        this.onRepaired(effect);
        return;
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

  /**
   * A purge took ready messages away: fewer to count, and the unread list may hold some of them
   * (the next pull reads the store). The redelivery list may too: a pull skips offsets no
   * longer pending, and it must keep the leased messages the purge kept that came back since.
   * A redrive made dead letters ready: counted, and delivered as redeliveries (in offset order,
   * before first deliveries) or, past the cursor, by the next read of the store.
   */
  private onRepaired(effect: Extract<ApplyEffect, { kind: 'repaired' }>): void {
    const waiter = this.repairWaiters.get(effect.offset);
    if (waiter) {
      this.repairWaiters.delete(effect.offset);
      waiter.resolve(effect.count);
    } else {
      this.repairCounts.set(effect.offset, effect.count);
      if (this.repairCounts.size > REPAIR_RESULTS_KEPT) this.repairCounts.delete(this.repairCounts.keys().next().value!);
    }
    const delivery = effect.inbox === null ? undefined : this.deliveries.get(effect.inbox);
    if (!delivery || effect.count === 0) return;
    if (effect.from === 'ready') {
      delivery.readyCount = Math.max(0, delivery.readyCount - effect.count);
      delivery.forgetUnread();
      return;
    }
    delivery.readyCount += effect.ready.length;
    for (const offset of effect.ready) {
      if (offset > delivery.cursor) delivery.forgetUnread();
      else delivery.requeue(offset);
    }
    if (effect.ready.length > 0) delivery.wakeWaiters();
  }

  private dropDelivery(inboxId: number): void {
    const delivery = this.deliveries.get(inboxId);
    if (!delivery) return;
    this.deliveries.delete(inboxId);
    const inbox = delivery.inbox;
    delivery.close(new MomError(inbox.kind === 'queue' ? 'queue_not_found' : 'subscription_not_found', `${inbox.kind} ${inbox.key.slice(2)} was deleted`));
  }

  /** Stops leading: long polls answer (empty), streams end, the log fails what waits on it. Idempotent. */
  async close(reason?: MomError): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const ended = reason ?? new MomError('unavailable', `partition ${this.partition} is no longer led here (its leadership moved); reconnect`);
    for (const delivery of this.deliveries.values()) delivery.close(ended);
    this.deliveries.clear();
    for (const waiter of this.repairWaiters.values()) waiter.reject(repairOutcomeUnknown(this.partition));
    this.repairWaiters.clear();
    await this.log.close();
  }
}

/** A repair whose entry is in the log but whose count this leader will not learn: not to be resent. */
function repairOutcomeUnknown(partition: number): MomError {
  return new MomError(
    'timeout',
    `partition ${partition}: the leadership moved while the repair was applied; it may or may not have been done, check the stats before repeating it`,
  );
}
