/**
 * One error type for the whole broker, with a closed list of codes. Codes are snake_case
 * because they travel to clients as `error.code` (DESIGN §8); they become HTTP or gRPC
 * statuses only at the edge (src/http/status.ts), never here.
 */
export const ERROR_CODES = [
  'bad_request', // malformed input: JSON, query values, body shape
  'invalid_name', // a name outside [A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}
  'payload_too_large',
  'unsupported_media_type', // a request body whose content type is present and not JSON
  'unauthorized', // no token, bad token, expired token
  'invalid_credentials', // POST /auth with a wrong user or password
  'forbidden', // valid token, no grant for this exchange/action
  'not_found', // route or resource
  'method_not_allowed', // a known path under another method (405, with Allow)
  'exchange_not_found',
  'queue_not_found',
  'topic_not_found',
  'subscription_not_found',
  'conflict', // declared again with other options, or not empty without force
  'not_leader', // this node does not lead the partition (421)
  'not_enough_replicas', // ISR below min_insync_replicas (503)
  'stale_epoch', // a request carried an older leader epoch
  'too_many_requests',
  'queue_full', // max_length reached: consume, or retry later
  'unavailable', // shutting down, failover in progress, dependency down
  'timeout',
  'insufficient_storage', // the node cannot write: disk full or an I/O error (507); nothing was stored
  'config_invalid',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface MomErrorOptions {
  cause?: unknown;
  /** Whether the same request may succeed if retried later (failover, overload). */
  retryable?: boolean;
  /** Extra fields a client can act on, sent inside `error` (e.g. the leader's location). */
  details?: Record<string, unknown>;
}

export class MomError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: MomErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MomError';
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT.has(code);
    this.details = options.details;
  }
}

const RETRYABLE_BY_DEFAULT: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'not_leader',
  'not_enough_replicas',
  'too_many_requests',
  'queue_full',
  'unavailable',
  'timeout',
  'insufficient_storage',
]);

export function isMomError(value: unknown): value is MomError {
  return value instanceof MomError;
}

/** Wraps anything thrown into a MomError, keeping MomErrors as they are. */
export function toMomError(value: unknown): MomError {
  if (value instanceof MomError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new MomError('internal', `internal error: ${message}`, { cause: value });
}
