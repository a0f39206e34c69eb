/**
 * Validation of client request bodies into model values. Pure: the HTTP layer reads JSON,
 * this decides whether it means something, and says precisely what is wrong when not.
 */
import { DEFAULT_QUEUE_OPTIONS, DEFAULT_TOPIC_OPTIONS, type QueueOptions, type SubscriptionStart, type TopicOptions } from './entries';
import { MomError } from './errors';

export const MAX_MESSAGES_PER_PUBLISH = 1000;
const MAX_PRODUCER_ID_LENGTH = 256;
const MAX_IDS_PER_SETTLE = 10_000;

function badRequest(message: string): MomError {
  return new MomError('bad_request', message);
}

function asObject(body: unknown, what: string): Record<string, unknown> {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest(`${what} must be a JSON object`);
  return body as Record<string, unknown>;
}

function rejectUnknownKeys(object: Record<string, unknown>, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key)) throw badRequest(`${what}: unknown field ${JSON.stringify(key)}; allowed: ${allowed.join(', ')}`);
  }
}

function optionalInt(object: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw badRequest(`${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function parseQueueOptions(body: unknown): QueueOptions {
  const object = asObject(body, 'queue options');
  rejectUnknownKeys(object, ['max_deliveries', 'message_ttl_ms', 'max_length'], 'queue options');
  return {
    max_deliveries: optionalInt(object, 'max_deliveries', 0, 1_000_000) ?? DEFAULT_QUEUE_OPTIONS.max_deliveries,
    message_ttl_ms: optionalInt(object, 'message_ttl_ms', 1, 365 * 24 * 3600 * 1000) ?? null,
    max_length: optionalInt(object, 'max_length', 1, 1_000_000_000) ?? null,
  };
}

export function parseTopicOptions(body: unknown): TopicOptions {
  const object = asObject(body, 'topic options');
  rejectUnknownKeys(object, ['retention_ms'], 'topic options');
  return { retention_ms: optionalInt(object, 'retention_ms', 0, 10 * 365 * 24 * 3600 * 1000) ?? DEFAULT_TOPIC_OPTIONS.retention_ms };
}

export function parseSubscriptionStart(body: unknown): SubscriptionStart {
  const object = asObject(body, 'subscription');
  rejectUnknownKeys(object, ['from'], 'subscription');
  const from = object.from ?? 'latest';
  if (from !== 'latest' && from !== 'earliest') throw badRequest(`from must be "latest" or "earliest", got ${JSON.stringify(from)}`);
  return from;
}

/** One message of a publish request, its payload and headers already serialized. */
export interface PublishInput {
  payload: string;
  headers: string | undefined;
  producerId: string | undefined;
}

function parseOneMessage(value: unknown, where: string): PublishInput {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest(`${where} must be an object with a "payload"`);
  const message = value as Record<string, unknown>;
  if (!Object.hasOwn(message, 'payload')) throw badRequest(`${where} has no "payload" (any JSON value, e.g. {"payload":"hello"})`);
  for (const key of Object.keys(message)) {
    if (key !== 'payload' && key !== 'headers' && key !== 'id') throw badRequest(`${where}: unknown field ${JSON.stringify(key)}; allowed: payload, headers, id`);
  }
  let headers: string | undefined;
  if (message.headers !== undefined && message.headers !== null) {
    if (typeof message.headers !== 'object' || Array.isArray(message.headers)) throw badRequest(`${where}.headers must be a JSON object`);
    headers = JSON.stringify(message.headers);
  }
  let producerId: string | undefined;
  if (message.id !== undefined && message.id !== null) {
    if (typeof message.id !== 'string' || message.id.length === 0 || message.id.length > MAX_PRODUCER_ID_LENGTH) {
      throw badRequest(`${where}.id must be a string of 1-${MAX_PRODUCER_ID_LENGTH} characters`);
    }
    producerId = message.id;
  }
  return { payload: JSON.stringify(message.payload), headers, producerId };
}

/** `{"payload",headers?,id?}` or `{"messages":[…]}` (at most 1000). */
export function parsePublishBody(body: unknown): PublishInput[] {
  if (body === undefined) throw badRequest('publish needs a body: {"payload": …} or {"messages": [{"payload": …}, …]}');
  if (typeof body === 'object' && body !== null && !Array.isArray(body) && Object.hasOwn(body, 'messages')) {
    const { messages, ...rest } = body as Record<string, unknown>;
    if (Object.keys(rest).length > 0) throw badRequest('a batch publish body has only "messages"');
    if (!Array.isArray(messages) || messages.length === 0) throw badRequest('"messages" must be a non-empty array');
    if (messages.length > MAX_MESSAGES_PER_PUBLISH) {
      throw badRequest(`at most ${MAX_MESSAGES_PER_PUBLISH} messages per publish request, got ${messages.length}`);
    }
    return messages.map((message, index) => parseOneMessage(message, `messages[${index}]`));
  }
  return [parseOneMessage(body, 'message')];
}

/** `{"ids":[…]}` for ack; `requeue` (default true) too for nack. */
export function parseSettleBody(body: unknown, withRequeue: boolean): { ids: string[]; requeue: boolean } {
  const object = asObject(body, 'ack/nack body');
  rejectUnknownKeys(object, withRequeue ? ['ids', 'requeue'] : ['ids'], withRequeue ? 'nack body' : 'ack body');
  const ids = object.ids;
  if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string')) throw badRequest('"ids" must be an array of message id strings');
  if (ids.length > MAX_IDS_PER_SETTLE) throw badRequest(`at most ${MAX_IDS_PER_SETTLE} ids per request`);
  const requeue = object.requeue ?? true;
  if (typeof requeue !== 'boolean') throw badRequest('"requeue" must be true or false');
  return { ids: ids as string[], requeue };
}

/**
 * The body of a dead-letter redrive or deletion: none (or `{}`) for every dead letter,
 * `{"ids":[…]}` for those messages only.
 */
export function parseDeadLetterSelection(body: unknown, what: string): { ids: string[] | null } {
  const object = asObject(body, `${what} body`);
  rejectUnknownKeys(object, ['ids'], `${what} body`);
  if (object.ids === undefined || object.ids === null) return { ids: null };
  const ids = object.ids;
  if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string')) throw badRequest('"ids" must be an array of message id strings (or leave it out for every dead letter)');
  if (ids.length > MAX_IDS_PER_SETTLE) throw badRequest(`at most ${MAX_IDS_PER_SETTLE} ids per request`);
  return { ids: ids as string[] };
}

/** A purge takes no options: no body, or `{}`. */
export function parsePurgeBody(body: unknown): void {
  const fields = Object.keys(asObject(body, 'purge body'));
  if (fields.length > 0) throw badRequest(`a purge takes no fields, got ${JSON.stringify(fields[0])}; send no body`);
}
