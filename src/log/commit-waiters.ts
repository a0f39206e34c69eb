import type { MomError } from '../core/errors';

interface CommitWaiter {
  end: number;
  resolve: () => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout;
}

/** Commits waiting for the leader's applied offset to reach their end, each with a deadline. */
export class CommitWaiters {
  private waiters: CommitWaiter[] = [];

  /** Resolves once `resolveUpTo` reaches `end`; rejects with `onTimeout()` after `timeoutMs`. */
  wait(end: number, timeoutMs: number, onTimeout: () => MomError): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: CommitWaiter = {
        end,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(onTimeout());
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Answers every commit whose entries are all below `applied`. */
  resolveUpTo(applied: number): void {
    if (!this.waiters.some((w) => w.end <= applied)) return;
    const done = this.waiters.filter((w) => w.end <= applied);
    this.waiters = this.waiters.filter((w) => w.end > applied);
    for (const waiter of done) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
  }

  failAll(error: MomError): void {
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }
}
