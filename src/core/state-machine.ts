/**
 * The decisions of a partition's state machine (DESIGN §3), as pure functions: what applying
 * a log entry does to one message or inbox, given what is there. The store's StateApplier
 * reads the rows, asks these, and writes the answer in SQL; every replica applying the same
 * entries in the same order decides the same, so their derived tables agree.
 */
import type { DeadReason, LogEntry, RepairEntry } from './entries';

/** A message still pending in an inbox: its failed deliveries, and whether it is a dead letter. */
export interface PendingMessage {
  failures: number;
  dead: boolean;
}

/** What a settle entry does to one message. */
export type SettleStep =
  /** Not pending there (acked before, or never delivered to it): nothing changes. */
  | { action: 'none'; state: 'gone' | 'dead'; failures: number }
  /** Acked: the message leaves the inbox. */
  | { action: 'delete'; state: 'gone'; failures: number }
  /** A failed delivery: counted; deliverable again, or a dead letter with `reason`. */
  | { action: 'update'; state: 'ready' | 'dead'; failures: number; reason: DeadReason | null };

type SettleEntry = Extract<LogEntry, { type: 'settle' }>;

/**
 * How a settle entry ends one delivery of a pending message. `maxDeliveries` N > 0 means at
 * most N deliveries: the Nth failure dead-letters (DESIGN §8); 0 means unlimited.
 */
export function settleStep(pending: PendingMessage | undefined, entry: Pick<SettleEntry, 'outcome' | 'reason'>, maxDeliveries: number): SettleStep {
  if (!pending || pending.dead) return { action: 'none', state: pending ? 'dead' : 'gone', failures: pending?.failures ?? 0 };
  if (entry.outcome === 'ack') return { action: 'delete', state: 'gone', failures: pending.failures };
  const failures = pending.failures + 1;
  const dead = entry.outcome === 'dead' || (maxDeliveries > 0 && failures >= maxDeliveries);
  const reason = entry.outcome === 'dead' ? deadReason(entry.reason) : dead ? 'max_deliveries' : null;
  return { action: 'update', state: dead ? 'dead' : 'ready', failures, reason };
}

/** The reason a dead letter shows: a rejection unless it expired or ran out of deliveries. */
export function deadReason(reason: SettleEntry['reason']): DeadReason {
  return reason === 'expired' ? 'expired' : reason === 'max_deliveries' ? 'max_deliveries' : 'rejected';
}

/**
 * The oldest publish time a subscription created `from: "earliest"` at `at` still gets: the
 * topic's retained messages are those published within `retentionMs` before it.
 */
export function retainedSince(at: number, retentionMs: number): number {
  return at - retentionMs;
}

/**
 * What a repair entry does to an inbox's pending messages: the messages in state `from`
 * (limited to `only` when given, never those in `except`) are removed (`to: 'gone'`) or made
 * deliverable again (`to: 'ready'`).
 */
export interface RepairPlan {
  /** `ready`: unsettled and not dead (leased ones included: the store does not know leases). */
  from: 'ready' | 'dead';
  /** Only these offsets; null: every message in `from`. */
  only: number[] | null;
  /** Never these offsets. */
  except: number[];
  /**
   * `ready` starts the message over: its failed deliveries go back to 0 and its dead reason
   * goes, so it gets max_deliveries deliveries again (as a message moved back from a
   * dead-letter queue by a shovel is a new message to its queue, and SQS's redrive resets the
   * receive count). Without the reset, one more failure would dead-letter it again at once.
   */
  to: 'gone' | 'ready';
}

/**
 * Purge: ready messages go, the leased ones stay (RabbitMQ's queue.purge removes the messages
 * that are ready, not those delivered and unacknowledged; they may still be acked, or come
 * back when nacked or when their lease expires). Redrive: dead letters become ready.
 * Deleting dead letters removes them.
 */
export function repairPlan(entry: RepairEntry): RepairPlan {
  switch (entry.type) {
    case 'inbox.purge':
      return { from: 'ready', only: null, except: entry.keep, to: 'gone' };
    case 'dead_letters.redrive':
      return { from: 'dead', only: entry.messages, except: [], to: 'ready' };
    case 'dead_letters.delete':
      return { from: 'dead', only: entry.messages, except: [], to: 'gone' };
  }
}

/** A pending message a repair with `plan` acts on: what it becomes (undefined: left as it is). */
export function repairStep(pending: PendingMessage, offset: number, plan: RepairPlan): PendingMessage | 'gone' | undefined {
  if (pending.dead !== (plan.from === 'dead')) return undefined;
  if (plan.only !== null && !plan.only.includes(offset)) return undefined;
  if (plan.except.includes(offset)) return undefined;
  return plan.to === 'gone' ? 'gone' : { failures: 0, dead: false };
}
