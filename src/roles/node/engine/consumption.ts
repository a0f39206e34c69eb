import { MomError } from '../../../core/errors';
import type { InboxRecord } from '../../../store/catalog';
import type { DeadLetterRow, MessageRow } from '../../../store/node-store';
import type { InboxDelivery, Lease, LeaseOwner, PullWaiter } from './inbox-delivery';
import type { LeaderPartition } from './leader-partition';
import type { Settlement } from './settlement';

export interface DeliveredMessage extends MessageRow {
  deliveries: number;
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
  user: number;
  signal?: AbortSignal;
}

/**
 * Handing messages out on a partition's leader: leases in delivery order (redeliveries
 * first, then first deliveries in offset order, DESIGN §2), long polls that wait for
 * messages, and the read-only views (stats, dead letters).
 */
export class Consumption {
  constructor(
    private readonly partition: LeaderPartition,
    private readonly settlement: Settlement,
  ) {}

  async pull(inboxKey: string, request: PullRequest): Promise<DeliveredMessage[]> {
    this.partition.assertOpen();
    const inbox = this.partition.requireInbox(inboxKey);
    const delivery = this.partition.delivery(inbox);
    const deadline = Date.now() + request.waitMs;
    for (;;) {
      const messages = this.lease(delivery, request.max, request.leaseMs, request.user);
      if (messages.length > 0 || request.waitMs === 0) return messages;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || this.partition.closed || this.partition.draining || request.signal?.aborted) return [];
      await this.waitForMessages(delivery, remaining, request);
      // Leadership moved meanwhile: an empty answer, and the next pull finds the new leader.
      if (this.partition.closed) return [];
      if (this.partition.existingDelivery(inbox.id) !== delivery) throw deleted(inbox);
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

  /**
   * Leases up to `max` deliverable messages: redeliveries first, then first deliveries in
   * offset order, to user `user` (DESIGN §7); `owner`: the stream they go to (none for a pull).
   */
  lease(delivery: InboxDelivery, max: number, leaseMs: number, user: number, owner?: LeaseOwner): DeliveredMessage[] {
    const inbox = delivery.inbox;
    const now = Date.now();
    const ttl = inbox.options.message_ttl_ms;
    const out: DeliveredMessage[] = [];
    const expired: number[] = [];
    const accept = (row: MessageRow) => {
      if (ttl !== null && row.ts + ttl < now) {
        expired.push(row.offset);
        return;
      }
      if (delivery.leases.has(row.msg_id)) {
        // A producer id reused after the dedup window while its namesake is leased: wait for it.
        delivery.requeue(row.offset);
        return;
      }
      const lease: Lease = { offset: row.offset, id: row.msg_id, failures: row.failures, deadline: now + leaseMs, user, owner };
      delivery.lease(lease);
      out.push({ ...row, deliveries: row.failures + 1 });
    };
    while (out.length < max && delivery.redeliver.length > 0) {
      const offset = delivery.redeliver.shift()!;
      const row = this.partition.store.pendingMessage(this.partition.partition, inbox.id, offset);
      if (row) accept(row);
    }
    const deliverFirst = (row: MessageRow) => {
      delivery.cursor = row.offset;
      if (!delivery.leasedOffsets.has(row.offset)) accept(row);
    };
    while (out.length < max) {
      const row = delivery.takeUnread();
      if (!row) break;
      deliverFirst(row);
    }
    while (out.length < max && !delivery.knowsUnread) {
      const wanted = max - out.length;
      const rows = this.partition.store.readyAfter(this.partition.partition, inbox.id, delivery.cursor, wanted);
      if (rows.length < wanted) delivery.knowNothingUnread();
      for (const row of rows) deliverFirst(row);
      if (rows.length === 0 || expired.length === 0) break;
    }
    if (expired.length > 0) this.settlement.deadLetterExpired(inbox, expired);
    return out;
  }

  stats(inboxKey: string): InboxStats {
    const inbox = this.partition.requireInbox(inboxKey);
    const counts = this.partition.store.counts(inbox.id);
    const inFlight = this.partition.existingDelivery(inbox.id)?.leases.size ?? 0;
    return { depth: Math.max(0, counts.ready - inFlight), in_flight: inFlight, dead_letters: counts.dead };
  }

  deadLetters(inboxKey: string, afterOffset: number, limit: number): DeadLetterRow[] {
    const inbox = this.partition.requireInbox(inboxKey);
    return this.partition.store.deadLetters(this.partition.partition, inbox.id, afterOffset, limit);
  }

  /** Answers every waiting long poll now (empty), for a shutdown that drains requests. */
  wakeAllWaiters(): void {
    this.partition.draining = true;
    for (const delivery of this.partition.allDeliveries()) delivery.cancelWaiters();
  }
}

function deleted(inbox: InboxRecord): MomError {
  return new MomError(inbox.kind === 'queue' ? 'queue_not_found' : 'subscription_not_found', `${inbox.kind} ${inbox.key.slice(2)} was deleted`);
}
