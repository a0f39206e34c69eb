/**
 * The one polling helper of the tests: wait for a condition, never sleep and hope.
 *
 * `waitFor(what, condition, options)` calls `condition` until it returns a truthy value (and
 * answers that value), or fails naming `what` after `timeoutMs`. It reads as a sentence: wait
 * for "the ISR to shrink", condition. `what` may be a function, to describe the state at the
 * deadline.
 *
 * An error thrown by `condition` fails the wait at once, unless `retryErrors` is set: then it
 * counts as "not yet" (a server that is still starting, a failover that is still settling),
 * and the last one is named in the timeout's message.
 */

export interface WaitOptions {
  /** How long to wait before failing; default 20 s. */
  timeoutMs?: number;
  /** Pause between two calls of the condition; default 20 ms. */
  intervalMs?: number;
  /** Treat an error thrown by the condition as "not yet" instead of failing; default false. */
  retryErrors?: boolean;
}

export async function waitFor<T>(
  what: string | (() => string),
  condition: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const intervalMs = options.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value;
    } catch (error) {
      if (!options.retryErrors) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) {
      const described = typeof what === 'string' ? what : what();
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${described}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
