import type { MomError } from '../../../core/errors';
import type { InboxRecord } from '../../../store/catalog';
import type { MessageRow } from '../../../store/node-store';
import type { PublishedMessage } from '../../../core/entries';

/** A message handed to a consumer and not yet settled: leader-local soft state (DESIGN §3). */
export interface Lease {
  /** The message's offset in its partition's log. */
  offset: number;
  id: string;
  failures: number;
  deadline: number;
  /** The user id of the consumer that took it: only it may ack or nack it (DESIGN §7). */
  user: number;
  /** The stream it was delivered on, which counts it against its prefetch; none for a pull. */
  owner?: LeaseOwner;
}

/** A consumer that holds leases against a credit (a stream): told when one is leased to it. */
export interface LeaseOwner {
  /** A lease of this owner's is in the lease table (again). */
  holds(lease: Lease): void;
  /** One of its leases ended for good (settled, or expired): its credit comes back. */
  released(id: string): void;
}

/** A stream consuming from the inbox: woken when messages may be deliverable, ended with the inbox. */
export interface InboxStream {
  /** The inbox went away or its leader stopped leading: ends the stream with `reason`. */
  end(reason: MomError): void;
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
   * Once a read of the store past the cursor came back short, this inbox knows every pending
   * message past the cursor: none then, and each one published since (they come with their
   * columns in the apply effect). Pulls take them from here instead of reading the store
   * again. Null while unknown: at first, after a message became ready again past the cursor,
   * or when the list outgrew its bound because nobody pulls.
   */
  private unread: MessageRow[] | null = null;
  private unreadHead = 0;
  private unreadBytes = 0;
  /** Offsets ready for another delivery, kept in offset order. */
  readonly redeliver: number[] = [];
  readonly leases = new Map<string, Lease>();
  /** Offsets leased, to keep one message from being leased twice. */
  readonly leasedOffsets = new Set<number>();
  readonly waiters: PullWaiter[] = [];
  /** Streams consuming from this inbox (see Streaming). */
  readonly streams = new Set<InboxStream>();
  /** Called when messages may have become deliverable, for the streams (set by Streaming). */
  onReady: (() => void) | undefined;
  /** Unsettled, not dead-lettered messages (leased ones included), for max_length. */
  readyCount = 0;

  /** `budget`: the memory all unread lists of the node may hold, shared by its inboxes. */
  constructor(
    public inbox: InboxRecord,
    private readonly budget: UnreadBudget,
  ) {}

  /** Whether `takeUnread` answers for the store (false: read the store past the cursor). */
  get knowsUnread(): boolean {
    return this.unread !== null;
  }

  /** After a short read of the store past the cursor: nothing else is pending past it. */
  knowNothingUnread(): void {
    this.unread = [];
    this.unreadHead = 0;
  }

  /** Forget what is unread past the cursor: the next pull reads the store. */
  forgetUnread(): void {
    this.unread = null;
    this.unreadHead = 0;
    this.budget.used -= this.unreadBytes;
    this.unreadBytes = 0;
  }

  /**
   * A message just became pending here: kept if this inbox knows its unread messages and the
   * budget allows, else the list is dropped (a consumer this far behind reads the store). A
   * message at or before the cursor was already read from the store: its effect can arrive
   * after a read that saw its row.
   */
  addUnread(offset: number, message: PublishedMessage): void {
    if (this.unread === null || offset <= this.cursor) return;
    // The columns a read of the store would give (see NodeStore.readyAfter).
    const row: MessageRow = { offset, failures: 0, msg_id: message.id, headers: message.headers ?? null, ts: message.publishedAt, payload: message.payload };
    const bytes = rowBytes(row);
    if (this.unread.length - this.unreadHead >= this.budget.perInbox || this.budget.used + bytes > this.budget.limit) {
      this.forgetUnread();
      return;
    }
    this.unread.push(row);
    this.unreadBytes += bytes;
    this.budget.used += bytes;
  }

  /** The oldest unread message past the cursor, if this inbox knows them and has one. */
  takeUnread(): MessageRow | undefined {
    const list = this.unread;
    if (list === null || this.unreadHead >= list.length) return undefined;
    const row = list[this.unreadHead++]!;
    const bytes = rowBytes(row);
    this.unreadBytes -= bytes;
    this.budget.used -= bytes;
    if (this.unreadHead === list.length) {
      list.length = 0;
      this.unreadHead = 0;
    }
    return row;
  }

  lease(lease: Lease): void {
    this.leases.set(lease.id, lease);
    this.leasedOffsets.add(lease.offset);
    lease.owner?.holds(lease);
  }

  /** Releases the lease of `id` if user `user` holds it; another's lease stays as it is. */
  releaseOwned(id: string, user: number): Lease | undefined {
    return this.leases.get(id)?.user === user ? this.release(id) : undefined;
  }

  release(id: string): Lease | undefined {
    const lease = this.leases.get(id);
    if (!lease) return undefined;
    this.leases.delete(id);
    this.leasedOffsets.delete(lease.offset);
    return lease;
  }

  /** Queues a message for redelivery, in offset order so older messages go first. */
  requeue(offset: number): void {
    if (offset > this.cursor || this.leasedOffsets.has(offset)) return; // first delivery will read it, or it is out
    const list = this.redeliver;
    if (list.length === 0 || list[list.length - 1]! < offset) {
      list.push(offset);
      return;
    }
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    if (list[lo] !== offset) list.splice(lo, 0, offset);
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

  /** Ends this delivery: waiters answer, streams end with `reason`, the unread list goes. */
  close(reason: MomError): void {
    this.cancelWaiters();
    for (const stream of [...this.streams]) stream.end(reason);
    this.streams.clear();
    this.onReady = undefined;
    this.forgetUnread();
  }

  /** Messages became deliverable: every long poll waiting here tries again, and the streams. */
  wakeWaiters(): void {
    this.onReady?.();
    if (this.waiters.length === 0) return;
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
  }

  cancelWaiters(): void {
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
  }
}

/** Memory for unread lists, shared by the inboxes of every partition a node leads. */
export interface UnreadBudget {
  /** Bytes (payload and headers, roughly) all lists may hold together. */
  readonly limit: number;
  /** Messages one list may hold. */
  readonly perInbox: number;
  used: number;
}

function rowBytes(row: MessageRow): number {
  return row.payload.length + (row.headers?.length ?? 0) + row.msg_id.length + 64;
}
