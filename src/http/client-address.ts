import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * Who is on the other end of a request, for per-address limits (login throttling). A gateway
 * relaying a login (src/roles/gateway/auth-relay.ts) appends the address it saw to
 * `X-Forwarded-For` and proves itself with the cluster secret; the header is believed only
 * then, since anyone can send it.
 */
export const CLUSTER_SECRET_HEADER = 'x-mom-cluster-secret';

/** Whether `req` carries the cluster secret (never when none is configured). Constant time. */
export function hasClusterSecret(req: IncomingMessage, secret: string | undefined): boolean {
  if (secret === undefined || secret === '') return false;
  const sent = req.headers[CLUSTER_SECRET_HEADER];
  if (typeof sent !== 'string') return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(sent), digest(secret));
}

/** The peer's address, or the one a trusted relay names last in X-Forwarded-For. */
export function clientAddress(req: IncomingMessage, trustForwardedFor: boolean): string {
  if (trustForwardedFor) {
    const forwarded = req.headers['x-forwarded-for'];
    const list = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded ?? '').split(',').map((part) => part.trim()).filter((part) => part !== '');
    const last = list[list.length - 1];
    if (last !== undefined) return normalize(last);
  }
  return normalize(req.socket.remoteAddress ?? 'unknown');
}

/** `::ffff:10.0.0.1` is 10.0.0.1: one client, one key, whichever way it connected. */
function normalize(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice('::ffff:'.length) : address;
}
