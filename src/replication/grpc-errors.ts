import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { ERROR_CODES, MomError, toMomError, type ErrorCode } from '../core/errors';

/**
 * The one table from error codes to gRPC statuses (https://grpc.io/docs/guides/status-codes/),
 * total like the HTTP one (src/http/status.ts): the compiler refuses a code without a status.
 * The code itself travels in the trailers, so the other side gets the MomError back.
 */
export const GRPC_STATUS_BY_CODE: Record<ErrorCode, status> = {
  bad_request: status.INVALID_ARGUMENT,
  invalid_name: status.INVALID_ARGUMENT,
  payload_too_large: status.RESOURCE_EXHAUSTED,
  unsupported_media_type: status.INVALID_ARGUMENT,
  unauthorized: status.UNAUTHENTICATED,
  invalid_credentials: status.UNAUTHENTICATED,
  forbidden: status.PERMISSION_DENIED,
  not_found: status.NOT_FOUND,
  method_not_allowed: status.UNIMPLEMENTED,
  exchange_not_found: status.NOT_FOUND,
  queue_not_found: status.NOT_FOUND,
  topic_not_found: status.NOT_FOUND,
  subscription_not_found: status.NOT_FOUND,
  conflict: status.ALREADY_EXISTS,
  not_leader: status.FAILED_PRECONDITION,
  not_enough_replicas: status.UNAVAILABLE,
  stale_epoch: status.FAILED_PRECONDITION,
  too_many_requests: status.RESOURCE_EXHAUSTED,
  queue_full: status.RESOURCE_EXHAUSTED,
  unavailable: status.UNAVAILABLE,
  timeout: status.DEADLINE_EXCEEDED,
  insufficient_storage: status.RESOURCE_EXHAUSTED,
  config_invalid: status.FAILED_PRECONDITION,
  internal: status.INTERNAL,
};

/** For an answer without our trailer (a proxy, a peer of another version): the closest code. */
const CODE_BY_GRPC_STATUS: Partial<Record<status, ErrorCode>> = {
  [status.UNAUTHENTICATED]: 'unauthorized',
  [status.PERMISSION_DENIED]: 'forbidden',
  [status.INVALID_ARGUMENT]: 'bad_request',
  [status.NOT_FOUND]: 'not_found',
  [status.INTERNAL]: 'internal',
  [status.UNIMPLEMENTED]: 'internal',
};

const CODE_KEY = 'mom-error-code';

export function toServiceError(error: unknown): Partial<ServiceError> {
  const momError = toMomError(error);
  const metadata = new Metadata();
  metadata.set(CODE_KEY, momError.code);
  return { code: GRPC_STATUS_BY_CODE[momError.code], details: momError.message, metadata };
}

export function fromServiceError(error: ServiceError, peer: string): MomError {
  const carried = error.metadata?.get(CODE_KEY)[0];
  const code =
    typeof carried === 'string' && (ERROR_CODES as readonly string[]).includes(carried) ? (carried as ErrorCode) : (CODE_BY_GRPC_STATUS[error.code] ?? 'unavailable');
  return new MomError(code, `replication call to ${peer} failed: ${error.details || error.message}`, { cause: error });
}
