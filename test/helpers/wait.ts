/**
 * Polls `probe` until it returns a truthy value, or fails naming `what` after `timeoutMs`.
 * (`waitFor` in broker.ts takes the condition first; this one reads as a sentence: wait until
 * "the ISR shrank", probe.) `what` may be a function, to describe the state at the deadline.
 */
export async function waitUntil<T>(
  what: string | (() => string),
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
