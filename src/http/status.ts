import type { ErrorCode } from '../core/errors';

/** The one table from error codes to HTTP statuses (DESIGN §8). */
export const HTTP_STATUS_BY_CODE: Record<ErrorCode, number> = {
  bad_request: 400,
  invalid_name: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unauthorized: 401,
  invalid_credentials: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  exchange_not_found: 404,
  queue_not_found: 404,
  topic_not_found: 404,
  subscription_not_found: 404,
  conflict: 409,
  not_leader: 421,
  not_enough_replicas: 503,
  stale_epoch: 409,
  too_many_requests: 429,
  queue_full: 429,
  unavailable: 503,
  timeout: 504,
  insufficient_storage: 507,
  config_invalid: 500,
  internal: 500,
};
