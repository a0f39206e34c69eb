import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { ERROR_CODES, MomError, toMomError, type ErrorCode } from '../core/errors';

/** The one table from error codes to gRPC statuses; the code itself travels in the trailers. */
const GRPC_STATUS_BY_CODE: Partial<Record<ErrorCode, status>> = {
  unauthorized: status.UNAUTHENTICATED,
  forbidden: status.PERMISSION_DENIED,
  stale_epoch: status.FAILED_PRECONDITION,
  not_leader: status.FAILED_PRECONDITION,
  unavailable: status.UNAVAILABLE,
  bad_request: status.INVALID_ARGUMENT,
};

const CODE_KEY = 'mom-error-code';

export function toServiceError(error: unknown): Partial<ServiceError> {
  const momError = toMomError(error);
  const metadata = new Metadata();
  metadata.set(CODE_KEY, momError.code);
  return { code: GRPC_STATUS_BY_CODE[momError.code] ?? status.INTERNAL, details: momError.message, metadata };
}

export function fromServiceError(error: ServiceError, peer: string): MomError {
  const carried = error.metadata?.get(CODE_KEY)[0];
  const code = typeof carried === 'string' && (ERROR_CODES as readonly string[]).includes(carried) ? (carried as ErrorCode) : 'unavailable';
  return new MomError(code, `replication call to ${peer} failed: ${error.details || error.message}`, { cause: error });
}
