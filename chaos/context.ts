/**
 * What a scenario works with (scenarios.ts): the cluster, the lab, the load and the map
 * sampler, and the few verbs faults are made of — pick a leader or a follower, record a
 * fault, wait for the map to show something, hold a fault for a while, add a check.
 */
import type { ChaosCluster, PartitionInfo, PartitionMap } from './cluster';
import { waitUntil } from './cluster';
import type { FaultRecord } from './history';
import type { Lab } from './lab';
import type { LinkDegradation } from './links';
import type { Tmpfs } from './tmpfs';
import type { InboxSpec, Load, MapSampler } from './workload';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface RecordedFault extends FaultRecord {
  /** Whether its windows count in the table (false for steps that only prove something afterwards). */
  measured: boolean;
}

export interface ScenarioContext {
  readonly cluster: ChaosCluster;
  readonly lab: Lab;
  readonly load: Load;
  readonly sampler: MapSampler;
  /** The first queue: faults aim at its partition's leader or a follower of it. */
  readonly target: InboxSpec;
  readonly short: boolean;
  leaderOf(partition: number): Promise<string>;
  /** A replica of the partition that is not its leader. */
  followerOf(partition: number): Promise<string>;
  /** Records the start of a fault on `victim` (undefined: on no node), with the partitions it leads and follows now. */
  beginFault(label: string, victim: string | undefined, measured?: boolean): Promise<RecordedFault>;
  /** Records that the fault was undone. */
  endFault(fault: RecordedFault): void;
  waitMap(what: string, condition: (map: PartitionMap) => boolean, timeoutMs: number): Promise<PartitionMap>;
  waitPartition(partition: number, condition: (info: PartitionInfo) => boolean, what: string, timeoutMs: number): Promise<PartitionInfo>;
  waitLeaderNot(partition: number, node: string, timeoutMs: number): Promise<PartitionInfo>;
  waitHealthy(timeoutMs: number): Promise<PartitionMap>;
  /** Keeps a fault in place for `ms` (the fault's duration, not a wait for a condition). */
  hold(ms: number): Promise<void>;
  /** A node's tmpfs (scenarios with `tmpfsMiB`). */
  disk(nodeId: string): Tmpfs;
  /** Delay and loss on every packet between two nodes; returns the undo. */
  degradeNodeLinks(degradation: LinkDegradation): Promise<() => void>;
  check(name: string, ok: boolean, detail: string): void;
  note(text: string): void;
}

export interface ContextParts {
  cluster: ChaosCluster;
  lab: Lab;
  load: Load;
  sampler: MapSampler;
  target: InboxSpec;
  short: boolean;
  disks: Map<string, Tmpfs>;
  faults: RecordedFault[];
  checks: Check[];
  notes: string[];
  degrade: (degradation: LinkDegradation) => Promise<() => void>;
}

export function makeContext(parts: ContextParts): ScenarioContext {
  const { cluster } = parts;
  const info = async (partition: number): Promise<PartitionInfo> => {
    const found = (await cluster.partitionMap()).partitions.find((p) => p.partition === partition);
    if (!found) throw new Error(`partition ${partition} is not in the map`);
    return found;
  };
  const waitPartition = (partition: number, condition: (p: PartitionInfo) => boolean, what: string, timeoutMs: number): Promise<PartitionInfo> => {
    let last: PartitionInfo | undefined;
    return waitUntil(
      () => `p${partition}: ${what}; last seen ${JSON.stringify(last)}`,
      async () => {
        last = await info(partition);
        return condition(last) ? last : undefined;
      },
      timeoutMs,
      50,
    );
  };
  return {
    cluster,
    lab: parts.lab,
    load: parts.load,
    sampler: parts.sampler,
    target: parts.target,
    short: parts.short,
    leaderOf: async (partition) => (await waitPartition(partition, (p) => p.leader !== null, 'a leader', 30_000)).leader!,
    followerOf: async (partition) => {
      const p = await waitPartition(partition, (p) => p.leader !== null, 'a leader', 30_000);
      const follower = p.replicas.find((r) => r !== p.leader);
      if (!follower) throw new Error(`p${partition} has no follower: ${JSON.stringify(p)}`);
      return follower;
    },
    beginFault: async (label, victim, measured = true) => {
      const map = await cluster.partitionMap();
      const led = victim === undefined ? [] : map.partitions.filter((p) => p.leader === victim).map((p) => p.partition);
      const followed = victim === undefined ? [] : map.partitions.filter((p) => p.leader !== victim && p.replicas.includes(victim)).map((p) => p.partition);
      const fault: RecordedFault = { label, victim, startedAt: Date.now(), healedAt: 0, until: 0, led, followed, measured };
      parts.faults.push(fault);
      parts.notes.push(`${new Date(fault.startedAt).toISOString()} fault: ${label}`);
      return fault;
    },
    endFault: (fault) => {
      fault.healedAt = Date.now();
      parts.notes.push(`${new Date(fault.healedAt).toISOString()} healed after ${fault.healedAt - fault.startedAt} ms: ${fault.label}`);
    },
    waitMap: (what, condition, timeoutMs) =>
      waitUntil(
        what,
        async () => {
          const map = await cluster.partitionMap();
          return condition(map) ? map : undefined;
        },
        timeoutMs,
      ),
    waitPartition,
    waitLeaderNot: (partition, node, timeoutMs) => waitPartition(partition, (p) => p.leader !== null && p.leader !== node, `a leader other than ${node}`, timeoutMs),
    waitHealthy: async (timeoutMs) => {
      const map = await cluster.waitHealthy(timeoutMs);
      // A sample of the full map now, before anything else happens, for the "ISR full after" figure.
      await parts.sampler.sample();
      return map;
    },
    hold: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    disk: (nodeId) => {
      const disk = parts.disks.get(nodeId);
      if (!disk) throw new Error(`${nodeId} has no tmpfs in this scenario`);
      return disk;
    },
    degradeNodeLinks: parts.degrade,
    check: (name, ok, detail) => {
      parts.checks.push({ name, ok, detail });
    },
    note: (text) => {
      parts.notes.push(`${new Date().toISOString()} ${text}`);
    },
  };
}
