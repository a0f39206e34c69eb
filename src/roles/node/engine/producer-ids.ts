import type { NodeStore } from '../../../store/node-store';

/**
 * Producer-id deduplication (DESIGN §2): a publish whose `id` was seen on the same queue or
 * topic within the window answers the original message's id and stores nothing. Ids being
 * committed right now are claimed in memory, so a retry racing its original is caught too.
 */
export class ProducerIds {
  private readonly inFlight = new Map<string, string>();

  constructor(
    private readonly store: NodeStore,
    private readonly windowMs: number,
  ) {}

  /** The original message id if `producerId` was seen on `target` (in flight or in the window). */
  find(target: string, producerId: string, now: number): string | undefined {
    const inFlight = this.inFlight.get(claimKey(target, producerId));
    if (inFlight !== undefined) return inFlight;
    const row = this.store.findDedup(target, producerId);
    if (row && row.ts >= now - this.windowMs) return row.msg_id;
    return undefined;
  }

  /** Marks the id as being committed; returns the claim to release afterwards. */
  claim(target: string, producerId: string): string {
    const key = claimKey(target, producerId);
    this.inFlight.set(key, producerId);
    return key;
  }

  release(claims: readonly string[]): void {
    for (const claim of claims) this.inFlight.delete(claim);
  }
}

function claimKey(target: string, producerId: string): string {
  return `${target}\u0000${producerId}`;
}
