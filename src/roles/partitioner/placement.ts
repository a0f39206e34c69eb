/**
 * The controller's decisions as pure functions (DESIGN §4): where a new partition's replicas
 * go, and who leads a partition given the nodes that are alive. No I/O: controller.ts reads
 * ZooKeeper, asks these functions, and writes the answer with a fenced compare-and-set.
 */
import type { PartitionAssignment, PartitionState } from '../../coordination/coordinator';

/**
 * The replicas of a new partition: RF = min(replicationFactor, live nodes), round-robin over
 * the live node ids in sorted order, starting at `partition mod n`. Deterministic, and it
 * spreads both replicas and leaders (the first replica) evenly over the nodes.
 */
export function assignReplicas(partition: number, liveNodeIds: readonly string[], replicationFactor: number): string[] {
  const nodes = [...new Set(liveNodeIds)].sort();
  const rf = Math.min(Math.max(1, replicationFactor), nodes.length);
  const replicas: string[] = [];
  for (let i = 0; i < rf; i++) replicas.push(nodes[(partition + i) % nodes.length]!);
  return replicas;
}

/**
 * A new partition's first state: leader = first replica, leader epoch 1, ISR = all replicas
 * (an empty log is in sync everywhere). Undefined when no node is alive to hold it.
 */
export function initialAssignment(partition: number, liveNodeIds: readonly string[], replicationFactor: number): PartitionAssignment | undefined {
  const replicas = assignReplicas(partition, liveNodeIds, replicationFactor);
  if (replicas.length === 0) return undefined;
  return { partition, replicas, leader: replicas[0]!, leaderEpoch: 1, isr: [...replicas] };
}

export type LeadershipChange =
  /** The leader died and a live ISR member takes over. */
  | 'failover'
  /** The leader died and no live ISR member is left: the partition is offline. */
  | 'offline'
  /** An offline partition gets a leader again: an ISR member came back. */
  | 'restored'
  /** No live ISR member, so a live replica outside the ISR leads: acknowledged entries may be lost. */
  | 'unclean'
  /** The leader lives on; ISR members that are not registered (dead, or withdrawn) leave the ISR. */
  | 'isr_shrink';

export interface LeadershipDecision {
  change: LeadershipChange;
  next: PartitionAssignment;
}

export interface ElectionRules {
  /** Allow a replica outside the ISR to lead when no ISR member is alive (DESIGN §4: off by default). */
  uncleanElection: boolean;
}

/**
 * What the controller must write for a partition, or undefined when its leadership is fine
 * as it is. Growing an ISR, and shrinking it for a follower that is alive but slow, is the
 * leader's job (DESIGN §5). The controller drops from the ISR every member that is not
 * registered (its session ended, or it withdrew because its disk refuses writes), as Kafka's
 * controller does when a broker dies: a dead follower then stalls its partitions no longer
 * than a dead leader does, instead of until the leader's lag bound.
 */
export function decideLeadership(state: PartitionState, live: ReadonlySet<string>, rules: ElectionRules): LeadershipDecision | undefined {
  const leaderAlive = state.leader !== null && live.has(state.leader);
  if (leaderAlive) {
    if (state.isr.every((id) => live.has(id))) return undefined;
    // Same leader, same epoch: only who must hold an entry before it commits changes. The
    // leader takes a member back once it is registered again and has caught up.
    const isr = state.isr.filter((id) => live.has(id));
    return { change: 'isr_shrink', next: { partition: state.partition, replicas: [...state.replicas], leader: state.leader, leaderEpoch: state.leaderEpoch, isr } };
  }
  // Only ISR members may lead: they hold every committed entry (DESIGN §4). Replica order
  // breaks ties, so the preferred (first) replica leads when it can.
  const isr = new Set(state.isr);
  const clean = state.replicas.find((id) => isr.has(id) && live.has(id)) ?? state.isr.find((id) => live.has(id));
  const base = { partition: state.partition, replicas: [...state.replicas], leaderEpoch: state.leaderEpoch + 1 };

  if (clean !== undefined) {
    if (state.leader === null) {
      // The ISR is kept as it was: members still away are dropped by the new leader (§5).
      return { change: 'restored', next: { ...base, leader: clean, isr: [...state.isr] } };
    }
    // The dead leader leaves the ISR, with any other member that is gone; the new leader's
    // epoch fences it if it comes back.
    return { change: 'failover', next: { ...base, leader: clean, isr: state.isr.filter((id) => id !== state.leader && live.has(id)) } };
  }

  if (rules.uncleanElection) {
    const anyReplica = state.replicas.find((id) => live.has(id));
    // Unclean election: the new leader's log becomes the truth; the ISR restarts from it alone.
    if (anyReplica !== undefined) return { change: 'unclean', next: { ...base, leader: anyReplica, isr: [anyReplica] } };
  }

  if (state.leader === null) return undefined; // already offline: wait for an ISR member
  // No live ISR member: offline rather than elect a replica that may miss committed entries.
  // The ISR stays as it is, so whichever of its members returns first can lead again.
  return { change: 'offline', next: { ...base, leader: null, isr: [...state.isr] } };
}
