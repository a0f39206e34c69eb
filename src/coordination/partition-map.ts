import type { Coordinator, NodeInfo, PartitionState, Unsubscribe } from './coordinator';
import { partitionOf } from '../core/hash';
import { MomError } from '../core/errors';

/** Where a routing key lives: the answer of the partitioner's POST /routing (DESIGN §6). */
export interface Route {
  partition: number;
  leader: string | null;
  node_location: string | null;
  replicas: string[];
  leader_epoch: number;
}

/**
 * A cached copy of the partition map and the live nodes, kept fresh by watching the
 * coordinator: the partitioner answers /routing and /partitions from it, and a gateway
 * without --partitioner-url routes with it.
 */
export class PartitionMap {
  private partitions = new Map<number, PartitionState>();
  private nodes = new Map<string, NodeInfo>();
  private partitionCount = 0;
  private readonly unsubscribes: Unsubscribe[] = [];

  constructor(private readonly coordinator: Coordinator) {}

  async start(defaultPartitions: number): Promise<void> {
    this.partitionCount = (await this.coordinator.ensureCluster({ partitions: defaultPartitions })).partitions;
    this.unsubscribes.push(
      this.coordinator.watchPartitions((states) => {
        this.partitions = new Map(states.map((s) => [s.partition, s]));
      }),
      this.coordinator.watchNodes((nodes) => {
        this.nodes = new Map(nodes.map((n) => [n.id, n]));
      }),
    );
  }

  route(exchange: string, name: string): Route {
    if (this.partitionCount === 0) throw new MomError('unavailable', 'the routing table is not loaded yet; retry');
    const partition = partitionOf(exchange, name, this.partitionCount);
    return this.routeOf(partition);
  }

  routeOf(partition: number): Route {
    const state = this.partitions.get(partition);
    const leader = state?.leader ?? null;
    return {
      partition,
      leader,
      node_location: leader ? this.nodes.get(leader)?.http ?? null : null,
      replicas: [...(state?.replicas ?? [])],
      leader_epoch: state?.leaderEpoch ?? 0,
    };
  }

  /** The in-sync replicas of a partition, as last seen. */
  isr(partition: number): string[] {
    return [...(this.partitions.get(partition)?.isr ?? [])];
  }

  liveNodes(): NodeInfo[] {
    return [...this.nodes.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  all(): Route[] {
    return Array.from({ length: this.partitionCount }, (_, p) => this.routeOf(p));
  }

  async close(): Promise<void> {
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
  }
}
