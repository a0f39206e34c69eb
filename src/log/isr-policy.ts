/**
 * The leader's ISR decisions (DESIGN §5), pure: who leaves the ISR for lagging, who rejoins,
 * and when the leader, not its followers, is the one cut off and must step down.
 */

/** What the leader knows of one follower from its fetches. */
export interface FollowerProgress {
  /** The next offset the follower asked for: it has everything below. */
  fetchOffset: number;
  /** When it last asked for an offset at or past the leader's durable log end. */
  lastCaughtUpAt: number;
  /** When it last fetched at all: a follower that stopped fetching cannot reach this leader. */
  lastFetchAt: number;
}

export interface IsrView {
  nodeId: string;
  isr: readonly string[];
  replicas: readonly string[];
  minIsr: number;
  highWatermark: number;
  /** The offset of this epoch's first entry: a rejoining follower must have fetched past it. */
  epochStart: number;
  /** When this node began to lead: a follower that never fetched counts from then. */
  leaderSince: number;
  replicaLagMaxMs: number;
  followers: ReadonlyMap<string, FollowerProgress>;
  /** Whether a node is registered with the coordinator. */
  isLive: (nodeId: string) => boolean;
}

export type IsrDecision =
  | { kind: 'keep' }
  /** Write this ISR (same leader, same epoch). */
  | { kind: 'change'; isr: string[] }
  /** Write the partition leaderless with this ISR (the others): see ReplicatedCommitLog.resign. */
  | { kind: 'resign'; isr: string[] };

export function decideIsr(view: IsrView, now: number): IsrDecision {
  const { nodeId, replicaLagMaxMs } = view;
  const next = view.isr.filter((member) => {
    if (member === nodeId) return true;
    const caughtUp = view.followers.get(member)?.lastCaughtUpAt || view.leaderSince;
    return now - caughtUp <= replicaLagMaxMs;
  });
  for (const replica of view.replicas) {
    if (next.includes(replica)) continue;
    const progress = view.followers.get(replica);
    // Rejoins once it has everything committed, including this epoch's first entry, and is
    // still fetching: the last progress of a follower that died stays caught up forever (its
    // offset also holds the HW back), so without the recency check it never left the ISR.
    if (
      progress &&
      view.isLive(replica) &&
      progress.fetchOffset >= view.highWatermark &&
      progress.fetchOffset > view.epochStart &&
      now - progress.lastCaughtUpAt <= replicaLagMaxMs
    ) {
      next.push(replica);
    }
  }
  if (next.length === view.isr.length && next.every((member) => view.isr.includes(member))) return { kind: 'keep' };
  if (next.length < view.minIsr && cutOffFromFollowers(view, now)) return { kind: 'resign', isr: view.isr.filter((member) => member !== nodeId) };
  return { kind: 'change', isr: next };
}

/**
 * Whether this leader, not its followers, is the one cut off: every other ISR member is still
 * registered with the coordinator yet has not fetched at all for the lag bound, and they are
 * enough to commit without this node. Shrinking the ISR to this node alone would then stall
 * the partition for as long as the cut lasts (nothing commits below min ISR), while its
 * followers, alive and in sync, could go on without it.
 */
function cutOffFromFollowers(view: IsrView, now: number): boolean {
  const others = view.isr.filter((member) => member !== view.nodeId);
  if (others.length < view.minIsr) return false;
  return others.every((member) => view.isLive(member) && now - (view.followers.get(member)?.lastFetchAt || view.leaderSince) > view.replicaLagMaxMs);
}
