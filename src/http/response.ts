import type { ServerResponse } from 'node:http';
import { toMomError } from '../core/errors';
import { HTTP_STATUS_BY_CODE } from './status';

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendRawJson(res, status, JSON.stringify(body));
}

/** For bodies already serialized (the pull path splices stored payload text as it is). */
export function sendRawJson(res: ServerResponse, status: number, json: string): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
  });
  res.end(json);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Seconds a client should wait: the error's own hint when it has one (`retry_after_ms`), else 1. */
function retryAfterSeconds(error: { details: Record<string, unknown> | undefined }): number {
  const hintMs = error.details?.['retry_after_ms'];
  return typeof hintMs === 'number' && Number.isFinite(hintMs) && hintMs > 0 ? Math.ceil(hintMs / 1000) : 1;
}

/** `{"error":{"code","message",...details}}` with the status from the one table. */
export function sendError(res: ServerResponse, error: unknown): void {
  const momError = toMomError(error);
  const status = HTTP_STATUS_BY_CODE[momError.code];
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // Whether a retry can help is the code's own flag (src/core/errors.ts), not a list kept here.
  if (momError.retryable) res.setHeader('retry-after', String(retryAfterSeconds(momError)));
  if (momError.code === 'unauthorized') res.setHeader('www-authenticate', 'Bearer');
  // RFC 9110 §15.5.6: a 405 names the methods the path has.
  const allow = momError.details?.['allow'];
  if (momError.code === 'method_not_allowed' && Array.isArray(allow)) res.setHeader('allow', allow.join(', '));
  sendJson(res, status, { error: { code: momError.code, message: momError.message, ...momError.details } });
}
