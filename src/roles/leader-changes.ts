import type { Coordinator, PartitionState, Unsubscribe } from '../coordination/coordinator';
import type { Metrics } from '../runtime/metrics';

/**
 * `mom_partition_leader_changes_total{partition}`: changes of a partition's leader or leader
 * epoch seen in the partition map since this process started watching it (the first view is
 * not a change). Nodes and partitioners each count what they see, so take `max by
 * (partition)` across processes rather than a sum.
 */
export function countLeaderChanges(metrics: Metrics, coordinator: Coordinator): Unsubscribe {
  const seen = new Map<number, { leader: string | null; epoch: number; changes: number }>();
  metrics.counters(
    'mom_partition_leader_changes_total',
    'changes of a partition\'s leader or leader epoch seen in the partition map by this process since it started',
    ['partition'],
    () => [...seen].map(([partition, { changes }]) => ({ labels: { partition }, value: changes })),
  );
  return coordinator.watchPartitions((states: PartitionState[]) => {
    for (const state of states) {
      const before = seen.get(state.partition);
      if (!before) {
        seen.set(state.partition, { leader: state.leader, epoch: state.leaderEpoch, changes: 0 });
      } else if (before.leader !== state.leader || before.epoch !== state.leaderEpoch) {
        before.leader = state.leader;
        before.epoch = state.leaderEpoch;
        before.changes++;
      }
    }
  });
}
