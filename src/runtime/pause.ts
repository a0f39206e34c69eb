/**
 * A pause that can be ended early: a retry loop's backoff that a shutdown, or a client going
 * away, must not wait out. One sleep at a time; `wake` ends the current one, if any.
 */
export class Pause {
  private wakeUp: (() => void) | null = null;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeUp = null;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        this.wakeUp = null;
        resolve();
      };
    });
  }

  wake(): void {
    this.wakeUp?.();
  }
}
