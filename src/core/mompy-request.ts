import { MomError } from './errors';
import { assertValidName } from './names';

/** MOM-py's request: `{"operation","type","data":{"headers":{"exchange","routing_key","message_date"},"body"}}`. */
export interface MomPyRequest {
  operation: 'push' | 'pull' | 'subscribe';
  type: 'q' | 't';
  exchange: string;
  routingKey: string;
  headers: Record<string, unknown>;
  body: unknown;
}

export function parseMomPyRequest(value: unknown): MomPyRequest {
  const bad = (message: string) => new MomError('bad_request', `MOM-py request: ${message}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('body must be a JSON object');
  const request = value as Record<string, unknown>;
  const operation = request.operation;
  if (operation !== 'push' && operation !== 'pull' && operation !== 'subscribe') throw bad('"operation" must be push, pull or subscribe');
  const type = request.type;
  if (type !== 'q' && type !== 't') throw bad('"type" must be "q" (queue) or "t" (topic)');
  if (operation === 'subscribe' && type !== 't') throw bad('subscribe works on topics: use "type":"t"');
  const data = request.data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw bad('"data" must be an object with "headers"');
  const headers = (data as Record<string, unknown>).headers;
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) throw bad('"data.headers" must be an object');
  const { exchange, routing_key: routingKey } = headers as Record<string, unknown>;
  if (typeof exchange !== 'string') throw bad('"data.headers.exchange" must be a string');
  if (typeof routingKey !== 'string') throw bad('"data.headers.routing_key" must be a string');
  assertValidName('exchange', exchange);
  assertValidName(type === 'q' ? 'queue' : 'topic', routingKey);
  if (operation === 'push' && !Object.hasOwn(data, 'body')) throw bad('push needs "data.body"');
  return { operation, type, exchange, routingKey, headers: headers as Record<string, unknown>, body: (data as Record<string, unknown>).body };
}
