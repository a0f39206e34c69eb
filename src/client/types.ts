/**
 * Wire types of the client API (DESIGN §8), as the server sends and accepts them. Field
 * names stay snake_case here because they are the JSON on the wire.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export type Headers = Record<string, string>;

/** One message in a publish request body. */
export interface WirePublishMessage {
  payload: unknown;
  headers?: Headers;
  /** Producer id: the same id within the dedup window is stored once. */
  id?: string;
}

/** 201 answer to a publish. */
export interface WirePublishResponse {
  ids: string[];
  duplicates?: number;
}

/** One message in a pull answer. */
export interface WireMessage {
  id: string;
  payload: unknown;
  headers: Headers;
  /** ISO 8601 UTC. */
  published_at: string;
  deliveries: number;
}

export interface WirePullResponse {
  messages: WireMessage[];
}

export interface AckResult {
  acked: number;
  /** Ids that were unknown or no longer leased. */
  unknown: string[];
}

export interface NackResult {
  nacked: number;
  unknown: string[];
}

export interface WireAuthResponse {
  token: string;
  /** ISO 8601. */
  expires_at: string;
}

export interface WireErrorBody {
  error: { code: string; message: string; [key: string]: unknown };
}

/** Options of `PUT /v1/exchanges/{ex}/queues/{q}`. */
export interface QueueOptions {
  /** At most N deliveries (0 = unlimited); the Nth failure dead-letters the message. */
  max_deliveries?: number;
  message_ttl_ms?: number;
  max_length?: number;
}

/** Options of `PUT /v1/exchanges/{ex}/topics/{t}`. */
export interface TopicOptions {
  retention_ms?: number;
}

export type SubscriptionStart = 'earliest' | 'latest';

/** Options of `PUT .../subscriptions/{s}`. */
export interface SubscriptionOptions {
  from?: SubscriptionStart;
}

/** A dead-lettered message: why it died and its position, for paging with `after`. */
export interface WireDeadLetter extends WireMessage {
  reason: string;
  cursor: number;
}

export interface WireDeadLettersResponse {
  dead_letters: WireDeadLetter[];
}

/** `GET` of a queue or subscription; the server may add fields. */
export interface QueueStats {
  exchange: string;
  name: string;
  /** Ready messages, not leased. */
  depth: number;
  in_flight: number;
  dead_letters: number;
  partition: number;
  leader: string;
  [key: string]: unknown;
}

/** Result of a declare: 201 means it was created, 200 that it existed with the same options. */
export interface DeclareResult {
  created: boolean;
}

/** One exchange of `GET /v1/exchanges`. */
export interface ExchangeInfo {
  name: string;
  /** ISO 8601. */
  created_at: string;
}

/** Depth (ready, not leased), in flight (leased) and dead letters of a queue or subscription. */
export interface InboxCounts {
  depth: number;
  in_flight: number;
  dead_letters: number;
}

/** One queue of `GET /v1/exchanges/{ex}/queues`. */
export interface QueueListing extends InboxCounts {
  name: string;
  partition: number;
  /** The node id of the partition's leader. */
  leader: string;
}

/** One subscription of a topic in `GET /v1/exchanges/{ex}/topics`. */
export interface SubscriptionListing extends InboxCounts {
  name: string;
}

/** One topic of `GET /v1/exchanges/{ex}/topics`. */
export interface TopicListing {
  name: string;
  retention_ms: number;
  partition: number;
  leader: string;
  subscriptions: SubscriptionListing[];
}
