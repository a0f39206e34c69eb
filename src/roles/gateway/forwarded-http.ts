/** The HTTP of a forwarded request: which headers go up and come back, and what an answer says. */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeader, ServerResponse } from 'node:http';

/** Hop-by-hop headers (RFC 9110 §7.6.1) are the proxy's own business, never copied. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
/** Request headers a node needs; everything else stays at the gateway. */
const FORWARDED_REQUEST_HEADERS = ['authorization', 'content-type', 'accept', 'user-agent', 'x-request-id'] as const;

/**
 * Whether a request may be sent again after a connection broke mid-way or the node did not
 * answer in time (it may have been processed). Reads, declares and deletes are idempotent; a
 * second ack or nack of the same ids lists them as unknown. A publish is only when every one
 * of its messages carries a producer `id`: the broker stores a repeated id once (DESIGN §2).
 * A purge or a redrive is not: done twice, it would also take the messages published (or
 * dead-lettered) between.
 */
export function isResendable(method: string, path: string, body = ''): boolean {
  if (method !== 'POST') return true;
  // MOM-py's POST / pushes, or pulls with ack on delivery: neither is harmless twice.
  if (path === '/') return false;
  if (/\/(purge|redrive)\/?$/.test(path)) return false;
  if (!/\/messages\/?$/.test(path)) return true;
  return everyMessageHasAnId(body);
}

function everyMessageHasAnId(body: string): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return false;
  }
  const hasId = (message: unknown): boolean => typeof message === 'object' && message !== null && typeof (message as { id?: unknown }).id === 'string';
  if (typeof parsed !== 'object' || parsed === null) return false;
  const messages = (parsed as { messages?: unknown }).messages;
  if (Array.isArray(messages)) return messages.length > 0 && messages.every(hasId);
  return hasId(parsed);
}

/** A request with neither Content-Length nor Transfer-Encoding has no body (RFC 9112 §6.3): nothing to read. */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export function forwardedHeaders(req: IncomingMessage, body: string): string[] {
  const headers: string[] = [];
  let contentType = false;
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = req.headers[name];
    if (typeof value !== 'string') continue;
    headers.push(name, value);
    if (name === 'content-type') contentType = true;
  }
  const peer = req.socket.remoteAddress;
  const prior = req.headers['x-forwarded-for'];
  if (peer) headers.push('x-forwarded-for', typeof prior === 'string' && prior !== '' ? `${prior}, ${peer}` : peer);
  if (body !== '' && !contentType) headers.push('content-type', 'application/json');
  return headers;
}

/** A node's answer headers as the client gets them: without hop-by-hop ones and Content-Length. */
export function copiedResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeader[] {
  const copied: OutgoingHttpHeader[] = [];
  // undici's header names are lower case; `for in` spares the arrays Object.entries would make.
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || name === 'content-length' || HOP_BY_HOP.has(name)) continue;
    copied.push(name, value);
  }
  return copied;
}

/** Copies a node's answer back with its own Content-Length, headers and body in one write. */
export function sendAnswer(res: ServerResponse, statusCode: number, headers: IncomingHttpHeaders, body: Buffer): void {
  const copied = copiedResponseHeaders(headers);
  copied.push('content-length', String(body.length));
  res.writeHead(statusCode, copied);
  res.end(body);
}

export function parseError(text: string): (Record<string, unknown> & { code: string }) | undefined {
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    const error = parsed?.error;
    if (typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string') {
      return error as Record<string, unknown> & { code: string };
    }
  } catch {
    // not JSON: not one of ours, pass it on as it is
  }
  return undefined;
}

export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown })?.code ?? (error as { cause?: { code?: unknown } })?.cause?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}
