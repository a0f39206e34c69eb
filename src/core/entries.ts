/**
 * The commands of a partition's state machine (DESIGN §3). The log of these entries is the
 * truth; queues, pending messages, dead letters, subscriptions and dedup ids are derived from
 * it by applying entries in offset order.
 */

export interface QueueOptions {
  /** At most this many deliveries; 0 = unlimited. */
  max_deliveries: number;
  /** Messages older than this are dead-lettered instead of delivered; null = never. */
  message_ttl_ms: number | null;
  /** Publishes beyond this many ready messages are refused; null = unbounded. */
  max_length: number | null;
}

export interface TopicOptions {
  retention_ms: number;
}

export type SubscriptionStart = 'latest' | 'earliest';
export type TargetKind = 'queue' | 'topic';

/** A message as published: the payload stays serialized JSON text from edge to edge. */
export interface PublishedMessage {
  id: string;
  /** The producer-chosen id, when given; it is also the message id. */
  producerId: string | undefined;
  /** JSON text of the payload (any JSON value). */
  payload: string;
  /** JSON text of a headers object, or undefined for none. */
  headers: string | undefined;
  publishedAt: number;
}

/** How a settle entry ends a delivery. */
export type SettleOutcome = 'ack' | 'retry' | 'dead';
export type DeadReason = 'rejected' | 'max_deliveries' | 'expired';

export type LogEntry =
  | { type: 'queue.declare'; exchange: string; queue: string; options: QueueOptions; at: number }
  | { type: 'queue.delete'; exchange: string; queue: string }
  | { type: 'topic.declare'; exchange: string; topic: string; options: TopicOptions; at: number }
  | { type: 'topic.delete'; exchange: string; topic: string }
  | { type: 'subscription.create'; exchange: string; topic: string; subscription: string; from: SubscriptionStart; at: number }
  | { type: 'subscription.delete'; exchange: string; topic: string; subscription: string }
  | { type: 'exchange.purge'; exchange: string }
  | { type: 'publish'; target: TargetKind; exchange: string; name: string; message: PublishedMessage }
  | {
      type: 'settle';
      /** The inbox (queue or subscription) key, see inboxKey(). */
      inbox: string;
      /** Offsets of the publish entries being settled. */
      messages: number[];
      outcome: SettleOutcome;
      /**
       * Why a 'dead' outcome (or a 'retry' that may turn dead) happened. `consumer_gone`: the
       * stream the message was delivered on closed before settling it.
       */
      reason: DeadReason | 'nack' | 'lease_expired' | 'consumer_gone';
      at: number;
    }
  /**
   * Purge (DESIGN §8): the inbox's ready messages go, except `keep`, the offsets leased on the
   * leader when it wrote the entry (RabbitMQ's purge leaves delivered, unacked messages).
   */
  | { type: 'inbox.purge'; inbox: string; keep: number[]; at: number }
  /** Redrive: dead letters (`messages`: their offsets; null: all of them) become deliverable again. */
  | { type: 'dead_letters.redrive'; inbox: string; messages: number[] | null; at: number }
  /** Dead letters (`messages`: their offsets; null: all of them) are deleted. */
  | { type: 'dead_letters.delete'; inbox: string; messages: number[] | null; at: number }
  /** Written by a new leader at the start of its epoch (Raft's no-op), so the epoch has an offset. */
  | { type: 'epoch.start'; nodeId: string };

/** The entries that repair an inbox (purge, redrive, dead-letter deletion). */
export type RepairEntry = Extract<LogEntry, { type: 'inbox.purge' | 'dead_letters.redrive' | 'dead_letters.delete' }>;

/** An entry as stored: its place in the partition's log and the leader epoch that wrote it. */
export interface StoredEntry {
  offset: number;
  epoch: number;
  entry: LogEntry;
}

export type InboxKind = 'queue' | 'subscription';

/** What a queue's inbox key starts with (the store's SQL builds keys from it too). */
export const QUEUE_INBOX_PREFIX = 'q:';

/** Queues and subscriptions are both inboxes: consumers pull, lease, ack and nack from them. */
export function queueInboxKey(exchange: string, queue: string): string {
  return `${QUEUE_INBOX_PREFIX}${exchange}/${queue}`;
}

export function subscriptionInboxKey(exchange: string, topic: string, subscription: string): string {
  return `s:${exchange}/${topic}/${subscription}`;
}

export function targetKey(kind: TargetKind, exchange: string, name: string): string {
  return `${kind === 'queue' ? 'q' : 't'}:${exchange}/${name}`;
}

export const DEFAULT_QUEUE_OPTIONS: QueueOptions = { max_deliveries: 0, message_ttl_ms: null, max_length: null };
export const DEFAULT_TOPIC_OPTIONS: TopicOptions = { retention_ms: 7 * 24 * 3600 * 1000 };

export function sameOptions(a: object, b: object): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    if ((a as Record<string, unknown>)[key] !== (b as Record<string, unknown>)[key]) return false;
  }
  return true;
}
