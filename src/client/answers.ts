/**
 * What an HTTP answer means to the SDK: its parsed body, or the MomClientError it carries
 * (with its Retry-After), and whether a failed request may be sent again, or sent to the
 * gateway instead of a partition leader.
 */
import type { ApiRequest } from './context';
import { MomClientError } from './errors';
import { requestWasNotSent, type TransportResponse } from './http-transport';
import { isRetryableStatus, retryAfterMs } from './retry';
import type { WireErrorBody } from './types';

/** Retry-After of the answer that produced an error, when it had one. */
const retryAfterByError = new WeakMap<MomClientError, number>();

/** The Retry-After (ms) of the answer that produced `error`, when it had one. */
export function retryAfterOf(error: MomClientError): number | undefined {
  return retryAfterByError.get(error);
}

/**
 * Retry what cannot be applied twice by mistake: idempotent requests on any retryable
 * failure; a publish without producer ids only when it provably was not processed (never
 * sent, or refused with 421/429 before any work).
 */
export function mayRetry(request: ApiRequest, error: MomClientError): boolean {
  if (!error.retryable || request.signal?.aborted) return false;
  if (request.idempotent) return true;
  return requestWasNotSent(error) || error.status === 421 || error.status === 429;
}

/** A node that is unreachable, not the leader (421) or not ready (503): the gateway knows better now. */
export function leaderCouldNotServe(error: MomClientError): boolean {
  return error.status === undefined ? error.retryable : error.status === 421 || error.status === 503;
}

export function parseBody(response: TransportResponse, request: ApiRequest, path: string): unknown {
  if (response.text === '') return undefined;
  const type = response.headers['content-type'];
  if (typeof type === 'string' && !type.includes('json')) return response.text;
  try {
    return JSON.parse(response.text);
  } catch (error) {
    throw new MomClientError('bad_response', `${request.method} ${path.split('?')[0]}: answered ${response.status} with invalid JSON`, { status: response.status, cause: error });
  }
}

export function errorFromResponse(response: TransportResponse, request: ApiRequest, path: string): MomClientError {
  const status = response.status;
  const retryable = isRetryableStatus(status);
  let body: unknown;
  try {
    body = JSON.parse(response.text);
  } catch {
    body = undefined;
  }
  const wireError = (body as Partial<WireErrorBody> | undefined)?.error;
  let error: MomClientError;
  if (typeof wireError === 'object' && wireError !== null && typeof wireError.code === 'string') {
    const { code, message, ...details } = wireError;
    error = new MomClientError(code, typeof message === 'string' ? message : code, { status, retryable, details });
  } else {
    const snippet = response.text.slice(0, 200).trim();
    error = new MomClientError('bad_response', `${request.method} ${path.split('?')[0]}: answered ${status}${snippet ? `: ${snippet}` : ''}`, { status, retryable });
  }
  const after = retryAfterMs(response.headers['retry-after']);
  if (after !== undefined) retryAfterByError.set(error, after);
  return error;
}
