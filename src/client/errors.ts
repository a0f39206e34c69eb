/**
 * The SDK's one error type. `code` is the server's `error.code` (DESIGN §8) when the server
 * answered with an error body, or one of the client-side codes below. Callers branch on
 * `code` and `retryable`, never on the message text.
 */

/** Codes the client produces itself, when no server error body is there to name one. */
export const CLIENT_ERROR_CODES = [
  'network_error', // the connection failed or broke (refused, reset, DNS)
  'tls_error', // the TLS handshake failed: the server's certificate is not trusted (pass its CA), or it does not speak TLS
  'timeout', // no response within the request timeout
  'closed', // the connection was closed; no new work is accepted
  'aborted', // the caller's AbortSignal fired
  'bad_response', // the server answered something that is not the documented JSON
  'invalid_argument', // rejected before sending: bad payload, bad option value
] as const;

export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number];

export interface MomClientErrorOptions {
  /** HTTP status of the answer, when there was one. */
  status?: number;
  /** Whether the same request may succeed when retried later. */
  retryable?: boolean;
  /** Extra fields of the server's `error` object (e.g. `reason`, `leader`). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class MomClientError extends Error {
  /** The server's `error.code` (`conflict`, `unauthorized`, …) or a {@link ClientErrorCode}. */
  readonly code: string;
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, options: MomClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MomClientError';
    this.code = code;
    this.status = options.status;
    this.retryable = options.retryable ?? false;
    this.details = options.details ?? {};
  }
}

export function isMomClientError(value: unknown): value is MomClientError {
  return value instanceof MomClientError;
}

export function closedError(): MomClientError {
  return new MomClientError('closed', 'the connection is closed; open a new one with connect()');
}

export function abortedError(cause?: unknown): MomClientError {
  return new MomClientError('aborted', 'the operation was aborted', { cause });
}

/** The error for an aborted signal: its reason when that is already ours (close() aborts with `closed`). */
export function errorFromAbort(signal: AbortSignal): MomClientError {
  return signal.reason instanceof MomClientError ? signal.reason : abortedError(signal.reason);
}
