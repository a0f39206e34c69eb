import type { SettleOutcome } from '../../../core/entries';
import type { InboxRecord } from '../../../store/catalog';
import type { Lease } from './inbox-delivery';
import type { LeaderPartition } from './leader-partition';

/** Pause before an expired lease whose record failed is tried again. */
const SETTLE_RETRY_MS = 1_000;

export interface SettleSummary {
  settled: number;
  unknown: string[];
}

/**
 * How deliveries end on a partition's leader (DESIGN §2): an ack settles a leased message, a
 * nack or an expired lease makes it deliverable again with one more failed delivery (or a
 * dead letter past max_deliveries). Each is a settle entry in the log, so it survives failover.
 */
export class Settlement {
  constructor(private readonly partition: LeaderPartition) {}

  /** `user`: the user id acking; ids leased to another consumer are `unknown` (DESIGN §7). */
  ack(inboxKey: string, ids: string[], user: number): Promise<SettleSummary> {
    return this.settle(inboxKey, ids, 'ack', 'nack', user);
  }

  nack(inboxKey: string, ids: string[], requeue: boolean, user: number): Promise<SettleSummary> {
    return this.settle(inboxKey, ids, requeue ? 'retry' : 'dead', requeue ? 'nack' : 'rejected', user);
  }

  private async settle(inboxKey: string, ids: string[], outcome: SettleOutcome, reason: 'nack' | 'rejected', user: number): Promise<SettleSummary> {
    this.partition.assertOpen();
    const inbox = this.partition.requireInbox(inboxKey);
    const delivery = this.partition.delivery(inbox);
    const released: Lease[] = [];
    const unknown: string[] = [];
    for (const id of ids) {
      // Another consumer's lease is not ours to settle: `unknown`, and left as it is.
      const lease = delivery.releaseOwned(id, user);
      if (lease) released.push(lease);
      else unknown.push(id);
    }
    if (released.length > 0) {
      try {
        await this.partition.commit([{ type: 'settle', inbox: inbox.key, messages: released.map((l) => l.offset), outcome, reason, at: Date.now() }]);
      } catch (error) {
        // Not settled: the consumer still holds the messages, as it did before asking. Handing
        // them out again at once would be a delivery that `deliveries` never counts; they come
        // back through the lease's expiry, which counts it, or through a retried ack.
        if (this.partition.existingDelivery(inbox.id) === delivery) for (const lease of released) delivery.lease(lease);
        throw error;
      }
      // A stream's credit comes back once the settle is on record, never before: until then
      // the message still counts against its prefetch.
      for (const lease of released) lease.owner?.released(lease.id);
    }
    return { settled: released.length, unknown };
  }

  /** Expired leases go back to their inbox with one more failed delivery (DESIGN §2). */
  sweepLeases(now: number): void {
    for (const delivery of this.partition.allDeliveries()) {
      if (delivery.leases.size === 0) continue;
      const expired = delivery.takeExpired(now);
      if (expired.length === 0) continue;
      for (const lease of expired) lease.owner?.released(lease.id);
      const inbox = delivery.inbox;
      this.partition
        .commit([{ type: 'settle', inbox: inbox.key, messages: expired.map((l) => l.offset), outcome: 'retry', reason: 'lease_expired', at: now }])
        .catch((error: unknown) => {
          // The failed delivery is not on record yet: the messages stay out until it is (the
          // next sweep after the pause tries again), so that every delivery counts.
          if (this.partition.existingDelivery(inbox.id) === delivery) {
            const retryAt = Date.now() + SETTLE_RETRY_MS;
            for (const lease of expired) delivery.lease({ offset: lease.offset, id: lease.id, failures: lease.failures, deadline: retryAt, user: lease.user });
          }
          this.partition.options.logger.warn('could not record expired leases; retrying', { inbox: inbox.key, error });
        });
    }
  }

  /** Messages past their TTL, found by a pull: dead-lettered without being delivered. */
  deadLetterExpired(inbox: InboxRecord, offsets: number[]): void {
    this.partition.commit([{ type: 'settle', inbox: inbox.key, messages: offsets, outcome: 'dead', reason: 'expired', at: Date.now() }]).catch((error: unknown) => {
      // Never delivered: the next pull finds them expired again and tries once more.
      const delivery = this.partition.existingDelivery(inbox.id);
      if (delivery) for (const offset of offsets) delivery.requeue(offset);
      this.partition.options.logger.warn('could not dead-letter expired messages; will try again', { inbox: inbox.key, error });
    });
  }
}
