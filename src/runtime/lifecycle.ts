import { MomError } from '../core/errors';

/**
 * The one shape of every long-lived object in the broker (DESIGN §10, STYLE 6):
 *
 * - the constructor only stores its options: files, sockets, timers and threads are opened
 *   by `start()`, which resolves once the object works (and rejects, having released what it
 *   opened, when it cannot);
 * - `close()` is async and idempotent: it stops taking new work, lets the work in flight
 *   finish (or fail with a retryable error where waiting could take long, such as a long
 *   poll or a commit waiting for replicas), releases everything, and resolves when done.
 *   Every later call resolves at once to the same outcome;
 * - after `close()` has begun, new work fails with `closedError()`: a retryable
 *   `unavailable`, since a client's retry reaches another process or the restarted one.
 */
export interface Lifecycle {
  start(): Promise<void>;
  close(): Promise<void>;
}

/** The error every call gets once `what` is closing or closed. */
export function closedError(what: string): MomError {
  return new MomError('unavailable', `${what} is shut down or shutting down; retry (another node or the restarted one answers)`);
}
