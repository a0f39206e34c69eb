import { MomError } from '../../core/errors';
import type { Principal } from '../../core/permissions';

/**
 * A bound on what one user may hold open at once on a node: long polls now, push streams too
 * (they share one counter, so a user cannot get around the bound by mixing them). `acquire`
 * takes a slot or refuses with 429 `too_many_requests`; the release it returns is idempotent.
 */
export class PerUserSlots {
  private readonly held = new Map<number, number>();

  /** `what` names the things counted in the refusal ("long polls"); `setting` the flag that raises it. */
  constructor(
    readonly limit: number,
    private readonly what: string,
    private readonly setting: string,
  ) {}

  acquire(principal: Principal): () => void {
    const count = this.held.get(principal.userId) ?? 0;
    if (count >= this.limit) {
      throw new MomError(
        'too_many_requests',
        `user ${principal.username} already has ${count} ${this.what} open on this node, the most allowed (${this.setting}); wait for one to end, or pull with wait_ms=0`,
      );
    }
    this.held.set(principal.userId, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.held.get(principal.userId) ?? 1) - 1;
      if (left <= 0) this.held.delete(principal.userId);
      else this.held.set(principal.userId, left);
    };
  }

  /** Slots `userId` holds now. */
  count(userId: number): number {
    return this.held.get(userId) ?? 0;
  }
}
