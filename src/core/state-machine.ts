/**
 * The decisions of a partition's state machine (DESIGN §3), as pure functions: what applying
 * a log entry does to one message or inbox, given what is there. The store's StateApplier
 * reads the rows, asks these, and writes the answer in SQL; every replica applying the same
 * entries in the same order decides the same, so their derived tables agree.
 */
import type { DeadReason, LogEntry } from './entries';

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
