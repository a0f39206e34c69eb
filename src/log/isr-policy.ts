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
  /** The coordinator's session timeout: how long a dead node may still look registered. */
  sessionTimeoutMs: number;
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
  if (next.length < view.minIsr) {
    // Every other member silent yet registered: either they died a moment ago (their sessions
    // have not ended yet) or this leader is cut off from them. Shrinking now would change
    // nothing (below min ISR nothing commits either way); wait until a dead node's session
    // must have ended. Still registered then, they are alive: this leader is the one cut off,
    // and shrinking the ISR to itself would stall the partition for as long as the cut lasts,
    // while they, in sync, could go on without it. It resigns to them.
    const silence = silenceOfAllOthers(view, now);
    if (silence !== undefined) return silence > deadNodeRegisteredAtMostMs(view.sessionTimeoutMs) ? { kind: 'resign', isr: view.isr.filter((member) => member !== nodeId) } : { kind: 'keep' };
  }
  return { kind: 'change', isr: next };
}

/**
 * How long a node that died may still be registered: its session ends after the timeout,
 * checked by ZooKeeper once a tick (a tick is at most half the timeout it grants), and the
 * leader hears of it through a watch. A quarter of the timeout, at least a second, covers
 * the usual tick (ZooKeeper's default 2 s tick with our 6 s default timeout: 7.5 s in all).
 */
export function deadNodeRegisteredAtMostMs(sessionTimeoutMs: number): number {
  return sessionTimeoutMs + Math.max(1_000, sessionTimeoutMs / 4);
}

/**
 * How long none of the other ISR members has fetched, when all of them are registered, silent
 * past the lag bound, and enough to commit without this node; otherwise undefined.
 */
function silenceOfAllOthers(view: IsrView, now: number): number | undefined {
  const others = view.isr.filter((member) => member !== view.nodeId);
  if (others.length < view.minIsr) return undefined;
  let silence = Number.POSITIVE_INFINITY;
  for (const member of others) {
    if (!view.isLive(member)) return undefined;
    silence = Math.min(silence, now - (view.followers.get(member)?.lastFetchAt || view.leaderSince));
  }
  return silence > view.replicaLagMaxMs ? silence : undefined;
}
