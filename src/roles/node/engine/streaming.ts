import { MomError } from '../../../core/errors';
import type { Consumption } from './consumption';
import type { InboxDelivery, Lease } from './inbox-delivery';
import type { LeaderPartition } from './leader-partition';
import { StreamConsumer, type EventSink, type StreamOptions } from './stream-consumer';

/** Messages one stream takes per turn while others wait, so that competing streams alternate. */
const SHARE_PER_TURN = 8;
/** Pause before a stream's unsettled messages, whose return failed to be recorded, are tried again. */
const GIVE_BACK_RETRY_MS = 1_000;

/**
 * Push delivery on a partition's leader (DESIGN §8 streams). Streams of an inbox wait for
 * messages like long polls do, but stay: whenever messages may be deliverable (published,
 * requeued) or a stream gets credit back (an ack, an expiry, a drained socket), one dispatch
 * per inbox runs at the end of the current turn and leases messages to the streams with
 * credit, in turns, each message once. Streams compete with each other and with pulls.
 *
 * A stream that ends gives its unsettled messages back at once, each with one more failed
 * delivery (a settle entry, as a nack: RabbitMQ requeues a closed channel's messages alike),
 * so that past max_deliveries they dead-letter as with leases.
 */
export class Streaming {
  private readonly scheduled = new Set<InboxDelivery>();
  /** Per inbox, where the next dispatch starts its turns. */
  private readonly nextTurn = new WeakMap<InboxDelivery, number>();

  constructor(
    private readonly partition: LeaderPartition,
    private readonly consumption: Consumption,
  ) {}

  /** Opens a stream on an inbox; the caller has sent the response's head already. */
  open(inboxKey: string, sink: EventSink, options: Omit<StreamOptions, 'keepaliveMs'>): StreamConsumer {
    if (this.partition.closed || this.partition.draining) throw new MomError('unavailable', `partition ${this.partition.partition} is not served here any more; reconnect`);
    const inbox = this.partition.requireInbox(inboxKey);
    const delivery = this.partition.delivery(inbox);
    const consumer = new StreamConsumer(delivery, sink, { ...options, keepaliveMs: this.partition.options.streamKeepaliveMs });
    consumer.onCredit = () => this.schedule(delivery);
    consumer.onEnd = (ended) => this.giveBack(ended);
    delivery.streams.add(consumer);
    delivery.onReady ??= () => this.schedule(delivery);
    this.schedule(delivery);
    return consumer;
  }

  /** Ends every stream with `reason` (a shutdown), each giving back what it holds. */
  endAll(reason: MomError): void {
    for (const delivery of this.partition.allDeliveries()) {
      for (const stream of [...delivery.streams]) stream.end(reason);
    }
  }

  private schedule(delivery: InboxDelivery): void {
    if (this.scheduled.has(delivery)) return;
    this.scheduled.add(delivery);
    queueMicrotask(() => {
      this.scheduled.delete(delivery);
      this.dispatch(delivery);
    });
  }

  /** Leases what is deliverable to the streams with credit, in turns starting at a rotating stream. */
  private dispatch(delivery: InboxDelivery): void {
    if (this.partition.closed || this.partition.existingDelivery(delivery.inbox.id) !== delivery) return;
    const streams = [...delivery.streams] as StreamConsumer[];
    if (streams.length === 0) return;
    const start = (this.nextTurn.get(delivery) ?? 0) % streams.length;
    this.nextTurn.set(delivery, start + 1);
    const share = streams.length === 1 ? Number.MAX_SAFE_INTEGER : SHARE_PER_TURN;
    for (let moved = true; moved; ) {
      moved = false;
      for (let i = 0; i < streams.length; i++) {
        const stream = streams[(start + i) % streams.length]!;
        const wanted = Math.min(stream.credit, share);
        if (wanted <= 0) continue;
        const messages = this.consumption.lease(delivery, wanted, stream.leaseMs, stream.user, stream);
        if (messages.length === 0) return; // nothing more is deliverable now
        stream.send(messages);
        moved = true;
      }
    }
  }

  /** A stream ended: what it held goes back at once, counted as a failed delivery. */
  private giveBack(consumer: StreamConsumer): void {
    const delivery = consumer.delivery;
    delivery.streams.delete(consumer);
    if (consumer.held.size === 0) return;
    const leases: Lease[] = [];
    for (const id of consumer.held) {
      const lease = delivery.release(id);
      if (lease) leases.push(lease);
    }
    consumer.held.clear();
    if (leases.length === 0 || this.partition.closed) return;
    const inbox = delivery.inbox;
    this.partition
      .commit([{ type: 'settle', inbox: inbox.key, messages: leases.map((l) => l.offset), outcome: 'retry', reason: 'consumer_gone', at: Date.now() }])
      .catch((error: unknown) => {
        // Not on record: they stay out, as expired leases whose record failed do, until the
        // sweep records the failed delivery.
        if (this.partition.existingDelivery(inbox.id) === delivery) {
          const retryAt = Date.now() + GIVE_BACK_RETRY_MS;
          for (const lease of leases) delivery.lease({ offset: lease.offset, id: lease.id, failures: lease.failures, deadline: retryAt, user: lease.user });
        }
        this.partition.options.logger.warn('could not give back the messages of a closed stream; retrying', { inbox: inbox.key, error });
      });
  }
}
