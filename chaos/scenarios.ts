/**
 * The fault-suite scenarios (issue 11 §1), each its own run on a fresh cluster: what fault to
 * inject on whom, how long it lasts, how it is healed, and the checks of its own beyond the
 * history's. The runner (runner.ts) starts the cluster and the load, calls `inject`, waits
 * for every ISR to be full again, drains and checks the history.
 */
import type { ScenarioContext } from './context';
import { corruptDatabase } from './corrupt';
import { checkSingleNodeDiskFull } from './single-node-disk';

export interface Scenario {
  number: number;
  name: string;
  title: string;
  /** Needs a real network between nodes (namespaces and packet filters). */
  needsNetns: boolean;
  /** Each node's data dir on its own tmpfs of this size (MiB). */
  tmpfsMiB?: number;
  inject(ctx: ScenarioContext): Promise<void>;
}

/** Fault durations: full runs, and the short ones of `npm test`. */
function hold(ctx: ScenarioContext, fullMs: number, shortMs: number): Promise<void> {
  return ctx.hold(ctx.short ? shortMs : fullMs);
}

export const SCENARIOS: readonly Scenario[] = [
  {
    number: 1,
    name: 'leader-kill',
    title: 'leader kill -9, chasing the new leader three times',
    needsNetns: false,
    async inject(ctx) {
      const chases = ctx.short ? 1 : 3;
      for (let i = 1; i <= chases; i++) {
        const victim = await ctx.leaderOf(ctx.target.partition);
        const fault = await ctx.beginFault(`kill -9 ${victim} (leader of p${ctx.target.partition}), ${i} of ${chases}`, victim);
        await ctx.cluster.node(victim).stop('SIGKILL');
        await ctx.waitLeaderNot(ctx.target.partition, victim, 30_000);
        await ctx.cluster.node(victim).start();
        ctx.endFault(fault);
        await ctx.waitHealthy(90_000);
      }
    },
  },
  {
    number: 2,
    name: 'follower-kill',
    title: 'follower kill -9, then restart',
    needsNetns: false,
    async inject(ctx) {
      const victim = await ctx.followerOf(ctx.target.partition);
      const fault = await ctx.beginFault(`kill -9 ${victim} (follower of p${ctx.target.partition})`, victim);
      await ctx.cluster.node(victim).stop('SIGKILL');
      await hold(ctx, 8_000, 4_000);
      await ctx.cluster.node(victim).start();
      ctx.endFault(fault);
    },
  },
  {
    number: 3,
    name: 'leader-sigstop',
    title: 'leader SIGSTOP past the session timeout, then SIGCONT (zombie leader)',
    needsNetns: false,
    async inject(ctx) {
      const victim = await ctx.leaderOf(ctx.target.partition);
      const fault = await ctx.beginFault(`SIGSTOP ${victim} (leader of p${ctx.target.partition})`, victim);
      ctx.cluster.node(victim).signal('SIGSTOP');
      try {
        await ctx.waitLeaderNot(ctx.target.partition, victim, 30_000);
        await hold(ctx, 3_000, 1_000);
      } finally {
        ctx.cluster.node(victim).signal('SIGCONT');
      }
      ctx.endFault(fault);
    },
  },
  {
    number: 4,
    name: 'leader-zk-cut',
    title: 'leader cut from ZooKeeper only',
    needsNetns: true,
    async inject(ctx) {
      const victim = await ctx.leaderOf(ctx.target.partition);
      const fault = await ctx.beginFault(`cut ${victim} (leader of p${ctx.target.partition}) from ZooKeeper`, victim);
      ctx.lab.cut(victim, [{ address: ctx.cluster.zk.address, port: ctx.cluster.zk.port }]);
      try {
        await ctx.waitLeaderNot(ctx.target.partition, victim, 30_000);
        await hold(ctx, 4_000, 1_000);
      } finally {
        ctx.lab.heal(victim);
      }
      ctx.endFault(fault);
    },
  },
  {
    number: 5,
    name: 'leader-peer-cut',
    title: 'leader cut from its followers only (still in ZooKeeper)',
    needsNetns: true,
    async inject(ctx) {
      const victim = await ctx.leaderOf(ctx.target.partition);
      const others = [...ctx.cluster.nodes.keys()].filter((id) => id !== victim);
      const fault = await ctx.beginFault(`cut ${victim} (leader of p${ctx.target.partition}) from ${others.join(', ')}`, victim);
      ctx.lab.cut(victim, others.map((id) => ({ address: ctx.lab.address(id) })));
      try {
        await hold(ctx, 12_000, 6_000);
      } finally {
        ctx.lab.heal(victim);
      }
      ctx.endFault(fault);
    },
  },
  {
    number: 6,
    name: 'isolate',
    title: 'one node (a leader) cut from everyone for 20 s, then healed',
    needsNetns: true,
    async inject(ctx) {
      const victim = await ctx.leaderOf(ctx.target.partition);
      const fault = await ctx.beginFault(`isolate ${victim} (leader of p${ctx.target.partition})`, victim);
      ctx.lab.isolate(victim);
      try {
        await hold(ctx, 20_000, 8_000);
      } finally {
        ctx.lab.heal(victim);
      }
      ctx.endFault(fault);
    },
  },
  {
    number: 7,
    name: 'netem',
    title: 'delay 100 ± 50 ms and 5 % loss between all nodes',
    needsNetns: true,
    async inject(ctx) {
      const fault = await ctx.beginFault('delay 100 ± 50 ms, 5 % loss between all nodes', undefined);
      const undo = await ctx.degradeNodeLinks({ delayMs: 100, jitterMs: 50, lossPercent: 5 });
      try {
        await hold(ctx, 20_000, 8_000);
      } finally {
        undo();
      }
      ctx.endFault(fault);
    },
  },
  {
    number: 8,
    name: 'zk-restart',
    title: 'ZooKeeper restarted under load',
    needsNetns: false,
    async inject(ctx) {
      const fault = await ctx.beginFault('restart ZooKeeper', undefined);
      await ctx.cluster.zk.restart();
      ctx.endFault(fault);
    },
  },
  {
    number: 9,
    name: 'disk-full',
    title: 'disk full on one follower; and a full disk on a single node (--role all)',
    needsNetns: false,
    tmpfsMiB: 48,
    async inject(ctx) {
      const victim = await ctx.followerOf(ctx.target.partition);
      const disk = ctx.disk(victim);
      const fault = await ctx.beginFault(`fill the disk of ${victim} (follower of p${ctx.target.partition})`, victim);
      disk.fill();
      try {
        const out = await ctx.waitPartition(ctx.target.partition, (p) => !p.isr.includes(victim), `${victim} to leave the ISR of p${ctx.target.partition}`, 30_000);
        ctx.check('the full follower leaves the ISR', true, `after ${Date.now() - fault.startedAt} ms (ISR ${out.isr.join(',')})`);
        await hold(ctx, 6_000, 3_000);
      } finally {
        disk.free();
      }
      ctx.endFault(fault);
      ctx.check('the node with the full disk said so', /the disk refused a write|insufficient|disk is full/i.test(ctx.cluster.node(victim).log()), 'a log line naming the refused write');
      await checkSingleNodeDiskFull(ctx);
    },
  },
  {
    number: 10,
    name: 'corrupt-follower',
    title: 'a follower restarted with a corrupted database file',
    needsNetns: false,
    async inject(ctx) {
      const victim = await ctx.followerOf(ctx.target.partition);
      const node = ctx.cluster.node(victim);
      const fault = await ctx.beginFault(`stop ${victim} (follower of p${ctx.target.partition}), corrupt node/broker.db, restart`, victim);
      await node.stop('SIGTERM');
      const damage = corruptDatabase(node.dataDir);
      ctx.note(`corrupted ${damage}`);
      const restartedAt = Date.now();
      await node.start();
      ctx.endFault(fault);
      const said = node.records(/corrupt/i);
      ctx.check('it says what it found', said.length > 0, said.length > 0 ? JSON.stringify(said[0]).slice(0, 300) : 'no log line mentioning the corruption');
      await ctx.waitHealthy(120_000);
      // It must not lead before it is back in the ISR of that partition. Samples taken before
      // the map showed it leading nothing are about the old process (its leaderships move once
      // its session ends).
      const handedOver = ctx.sampler.samples.find((s) => s.at >= restartedAt && !ctx.sampler.samples.some((o) => o.at === s.at && o.leader === victim));
      const premature = ctx.sampler.samples.filter((s) => handedOver !== undefined && s.at > handedOver.at && s.leader === victim && !wasInIsrBefore(ctx, s.partition, victim, handedOver.at, s.at));
      ctx.check('it does not lead before it caught up', premature.length === 0, premature.length === 0 ? 'never leader while out of the ISR' : `led p${premature[0]!.partition} at ${new Date(premature[0]!.at).toISOString()}`);
      // Proof that it rebuilt: make it the only live replica, so that it leads everything, then bring the others back.
      const others = [...ctx.cluster.nodes.keys()].filter((id) => id !== victim);
      const proof = await ctx.beginFault(`proof: kill -9 ${others.join(', ')} so that ${victim} leads every partition`, victim, false);
      await Promise.all(others.map((id) => ctx.cluster.node(id).stop('SIGKILL')));
      await ctx.waitMap(`${victim} to lead every partition`, (map) => map.partitions.every((p) => p.leader === victim), 60_000);
      ctx.check('the rebuilt node leads every partition once the others are gone', true, '');
      await Promise.all(others.map((id) => ctx.cluster.node(id).start()));
      ctx.endFault(proof);
    },
  },
];

function wasInIsrBefore(ctx: ScenarioContext, partition: number, node: string, since: number, at: number): boolean {
  return ctx.sampler.samples.some((s) => s.partition === partition && s.at >= since && s.at <= at && s.isr.includes(node) && s.leader !== node);
}

export function findScenario(key: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === key || String(s.number) === key);
}
