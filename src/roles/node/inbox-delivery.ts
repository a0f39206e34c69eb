import type { InboxRecord } from '../../store/catalog';

/** A message handed to a consumer and not yet settled: leader-local soft state (DESIGN §3). */
export interface Lease {
  msg: number;
  id: string;
  failures: number;
  deadline: number;
}

/** A long-poll waiting for messages. */
export interface PullWaiter {
  max: number;
  leaseMs: number;
  timer: NodeJS.Timeout;
  resolve: () => void;
}

/**
 * Delivery state of one inbox on its partition's leader. The pending table holds every
 * unsettled message; first deliveries read it in offset order past `cursor`, so nothing but
 * leases, the redelivery list and waiters lives in memory, however deep the queue.
 */
export class InboxDelivery {
  /** Highest message offset already handed out once (or skipped). */
  cursor = -1;
  /**
   * False once a read past the cursor came back short, until a publish lands in this inbox:
   * then there is nothing past the cursor to read, and a woken long poll that lost the race
   * for the new message need not ask the store again.
   */
  mayHaveUnread = true;
  /** Offsets ready for another delivery, kept in offset order. */
  readonly redeliver: number[] = [];
  readonly leases = new Map<string, Lease>();
  /** Offsets leased, to keep one message from being leased twice. */
  readonly leasedMsgs = new Set<number>();
  readonly waiters: PullWaiter[] = [];
  /** Unsettled, not dead-lettered messages (leased ones included), for max_length. */
  readyCount = 0;

  constructor(public inbox: InboxRecord) {}

  lease(lease: Lease): void {
    this.leases.set(lease.id, lease);
    this.leasedMsgs.add(lease.msg);
  }

  release(id: string): Lease | undefined {
    const lease = this.leases.get(id);
    if (!lease) return undefined;
    this.leases.delete(id);
    this.leasedMsgs.delete(lease.msg);
    return lease;
  }

  /** Queues a message for redelivery, in offset order so older messages go first. */
  requeue(msg: number): void {
    if (msg > this.cursor || this.leasedMsgs.has(msg)) return; // first delivery will read it, or it is out
    const list = this.redeliver;
    if (list.length === 0 || list[list.length - 1]! < msg) {
      list.push(msg);
      return;
    }
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]! < msg) lo = mid + 1;
      else hi = mid;
    }
    if (list[lo] !== msg) list.splice(lo, 0, msg);
  }

  /** Leases whose deadline passed, removed from the lease table. */
  takeExpired(now: number): Lease[] {
    const expired: Lease[] = [];
    for (const lease of this.leases.values()) {
      if (lease.deadline <= now) expired.push(lease);
    }
    for (const lease of expired) this.release(lease.id);
    return expired;
  }

  cancelWaiters(): void {
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
  }
}
