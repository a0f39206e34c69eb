/**
 * The controller against a real ZooKeeper (test/helpers/zookeeper.ts). One server for the
 * file; each subtest works under its own root. Nodes are plain registrations made through
 * coordinators of their own: closing one ends its session, which is how a node "dies".
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import type { PartitionState } from '../../../src/coordination/coordinator';
import { ZooKeeperCoordinator } from '../../../src/coordination/zookeeper-coordinator';
import { Logger, parseLogLevel } from '../../../src/runtime/logger';
import { Controller, type ControllerOptions } from '../../../src/roles/partitioner/controller';
import { assignReplicas } from '../../../src/roles/partitioner/placement';
import { startProxy, startZooKeeper } from '../../helpers/zookeeper';
import { waitFor } from '../../helpers/wait';

/** MOM_LOG_LEVEL=debug shows the controllers' logs. */
const logger = new Logger(parseLogLevel(process.env.MOM_LOG_LEVEL, 'silent'));
const SESSION_TIMEOUT_MS = 4_000;

test('the controller against a real ZooKeeper', async (t) => {
  const zk = await startZooKeeper(t);

  async function coordinator(st: TestContext, root: string, connectString = zk.connectString): Promise<ZooKeeperCoordinator> {
    const c = new ZooKeeperCoordinator({ connectString, root, sessionTimeoutMs: SESSION_TIMEOUT_MS, logger });
    st.after(() => c.close());
    await c.start();
    return c;
  }

  /** A "node": a session of its own holding one registration. */
  async function node(st: TestContext, root: string, id: string): Promise<ZooKeeperCoordinator> {
    const c = await coordinator(st, root);
    await c.registerNode({ id, http: `http://127.0.0.1:1/${id}`, grpc: '', version: 'test' });
    return c;
  }

  async function controller(st: TestContext, root: string, id: string, options: Partial<ControllerOptions> = {}, connectString?: string) {
    const c = await coordinator(st, root, connectString);
    const ctl = new Controller({ coordinator: c, candidateId: id, partitions: 6, replicationFactor: 3, logger, retryDelayMs: 100, placementGraceMs: 200, ...options });
    st.after(() => ctl.close());
    await ctl.start();
    return { coordinator: c, controller: ctl };
  }

  async function partitions(c: ZooKeeperCoordinator, count: number): Promise<PartitionState[] | undefined> {
    const states = await c.listPartitions();
    return states.length === count ? states : undefined;
  }

  const newRoot = (): string => `${zk.root}/${randomUUID()}`;

  await t.test('places every partition over the live nodes, leader first, epoch 1, ISR = replicas', async (st) => {
    const root = newRoot();
    for (const id of ['n1', 'n2', 'n3', 'n4']) await node(st, root, id);
    const { coordinator: c, controller: ctl } = await controller(st, root, 'p1');
    const states = await waitFor('6 partitions', () => partitions(c, 6));
    assert.equal(ctl.status().active, true);
    for (const state of states) {
      const replicas = assignReplicas(state.partition, ['n1', 'n2', 'n3', 'n4'], 3);
      assert.deepEqual(
        { replicas: state.replicas, leader: state.leader, leaderEpoch: state.leaderEpoch, isr: state.isr },
        { replicas, leader: replicas[0], leaderEpoch: 1, isr: replicas },
        `partition ${state.partition}`,
      );
    }
    assert.deepEqual(new Set(states.map((s) => s.leader)), new Set(['n1', 'n2', 'n3', 'n4']), 'leaders are spread');
  });

  await t.test('placement waits for RF nodes, however long the first one waits alone', async (st) => {
    const root = newRoot();
    // A grace far beyond the test: the only way to place is with RF (2) nodes registered.
    const { coordinator: c, controller: ctl } = await controller(st, root, 'p1', { partitions: 3, replicationFactor: 2, placementGraceMs: 600_000 });
    await waitFor('the controller to be active', () => ctl.status().active);
    await ctl.whenIdle();
    assert.deepEqual(await c.listPartitions(), [], 'nothing is placed before a node exists');
    await node(st, root, 'n1');
    await node(st, root, 'n2');
    const states = await waitFor('3 partitions', () => partitions(c, 3));
    for (const state of states) assert.deepEqual(state.replicas, assignReplicas(state.partition, ['n1', 'n2'], 2));
  });

  await t.test('with fewer than RF nodes, placement happens after the grace period, RF capped at the live nodes', async (st) => {
    const root = newRoot();
    const started = Date.now();
    await node(st, root, 'n1');
    await node(st, root, 'n2');
    const { coordinator: c } = await controller(st, root, 'p1', { partitions: 3, replicationFactor: 3, placementGraceMs: 300 });
    const states = await waitFor('3 partitions', () => partitions(c, 3));
    assert.ok(Date.now() - started >= 300, 'not before the grace period');
    for (const state of states) {
      assert.deepEqual(state.replicas, assignReplicas(state.partition, ['n1', 'n2'], 3));
      assert.equal(state.replicas.length, 2);
      assert.equal(state.leader, state.replicas[0]);
    }
  });

  await t.test('a dead leader is replaced from the ISR with a bumped epoch; a dead follower leaves the ISR of live leaders', async (st) => {
    const root = newRoot();
    const nodes = new Map<string, ZooKeeperCoordinator>();
    for (const id of ['n1', 'n2', 'n3']) nodes.set(id, await node(st, root, id));
    const { coordinator: c } = await controller(st, root, 'p1', { partitions: 3 });
    const before = await waitFor('3 partitions', () => partitions(c, 3));
    const led = before.filter((s) => s.leader === 'n1').map((s) => s.partition);
    assert.deepEqual(led, [0]);

    await nodes.get('n1')!.close();
    const after = await waitFor('a new leader for partition 0', async () => {
      const states = await c.listPartitions();
      return states[0]!.leader !== 'n1' ? states : undefined;
    });
    const p0 = after[0]!;
    // Partition 0 was [n1, n2, n3]: the first live ISR member in replica order leads.
    assert.deepEqual({ leader: p0.leader, leaderEpoch: p0.leaderEpoch, isr: p0.isr, replicas: p0.replicas }, {
      leader: 'n2',
      leaderEpoch: 2,
      isr: ['n2', 'n3'],
      replicas: ['n1', 'n2', 'n3'],
    });
    // Partitions n1 only follows: same leader and epoch, n1 dropped from the ISR at once
    // (DESIGN §5: a dead follower stalls its partitions no longer than a dead leader).
    const rest = await waitFor('n1 out of every ISR', async () => {
      const states = await c.listPartitions();
      return states.every((state) => !state.isr.includes('n1')) ? states : undefined;
    });
    for (const state of rest.slice(1)) {
      const was = before[state.partition]!;
      assert.deepEqual({ leader: state.leader, leaderEpoch: state.leaderEpoch, isr: state.isr }, {
        leader: was.leader,
        leaderEpoch: was.leaderEpoch,
        isr: was.isr.filter((id) => id !== 'n1'),
      });
    }
  });

  await t.test('no live ISR member: leader null; the ISR member coming back leads again', async (st) => {
    const root = newRoot();
    const n1 = await node(st, root, 'n1');
    await node(st, root, 'n2');
    const { coordinator: c } = await controller(st, root, 'p1', { partitions: 1, replicationFactor: 2 });
    const [initial] = await waitFor('partition 0', () => partitions(c, 1));
    assert.deepEqual(initial!.replicas, ['n1', 'n2']);
    // The leader n1 shrinks its ISR to itself (n2 lagging), as a leader does, without a fence.
    const shrunk = await n1.casPartition({ ...initial!, isr: ['n1'] }, initial!.version);
    assert.ok(shrunk, 'the leader ISR write');

    await n1.close();
    const offline = await waitFor('partition 0 offline', async () => {
      const state = await c.getPartition(0);
      return state && state.leader === null ? state : undefined;
    });
    // n2 is alive but not in the ISR: it must not lead (no unclean election by default).
    assert.deepEqual({ leaderEpoch: offline.leaderEpoch, isr: offline.isr }, { leaderEpoch: 2, isr: ['n1'] });

    await node(st, root, 'n1');
    const restored = await waitFor('n1 leading again', async () => {
      const state = await c.getPartition(0);
      return state && state.leader === 'n1' ? state : undefined;
    });
    assert.deepEqual({ leaderEpoch: restored.leaderEpoch, isr: restored.isr }, { leaderEpoch: 3, isr: ['n1'] });
  });

  await t.test('unclean election, when configured, lets a live replica outside the ISR lead', async (st) => {
    const root = newRoot();
    const n1 = await node(st, root, 'n1');
    await node(st, root, 'n2');
    const { coordinator: c } = await controller(st, root, 'p1', { partitions: 1, replicationFactor: 2, uncleanElection: true });
    const [initial] = await waitFor('partition 0', () => partitions(c, 1));
    assert.ok(await n1.casPartition({ ...initial!, isr: ['n1'] }, initial!.version));
    await n1.close();
    const state = await waitFor('n2 leading', async () => {
      const s = await c.getPartition(0);
      return s && s.leader === 'n2' ? s : undefined;
    });
    assert.deepEqual({ leaderEpoch: state.leaderEpoch, isr: state.isr }, { leaderEpoch: 2, isr: ['n2'] });
  });

  await t.test('two controllers: one acts; when it dies the other takes over with a higher epoch and handles a failover', async (st) => {
    const root = newRoot();
    const nodes = new Map<string, ZooKeeperCoordinator>();
    for (const id of ['n1', 'n2', 'n3']) nodes.set(id, await node(st, root, id));
    const a = await controller(st, root, 'pa', { partitions: 3 });
    const b = await controller(st, root, 'pb', { partitions: 3 });
    await waitFor('one active controller', () => a.controller.status().active || b.controller.status().active);
    const [active, standby] = a.controller.status().active ? [a, b] : [b, a];
    const firstEpoch = active.controller.status().controllerEpoch!;
    assert.equal(standby.controller.status().active, false);
    assert.equal(standby.controller.status().controllerEpoch, null);

    const placed = await waitFor('3 partitions', () => partitions(active.coordinator, 3));
    assert.ok(placed.every((s) => s.version === 0 && s.leaderEpoch === 1), 'each partition written once, at creation');

    // The active controller's process dies: its session ends, the standby wins.
    await active.controller.close();
    await active.coordinator.close();
    await waitFor('the standby to take over', () => standby.controller.status().active);
    const secondEpoch = standby.controller.status().controllerEpoch!;
    assert.ok(secondEpoch > firstEpoch, `epoch ${secondEpoch} > ${firstEpoch}`);

    // And it acts: n2 (leader of partition 1) dies.
    await nodes.get('n2')!.close();
    const p1 = await waitFor('a new leader for partition 1', async () => {
      const state = await standby.coordinator.getPartition(1);
      return state && state.leader !== 'n2' ? state : undefined;
    });
    assert.deepEqual({ leader: p1.leader, leaderEpoch: p1.leaderEpoch, isr: p1.isr, version: p1.version }, {
      leader: 'n3',
      leaderEpoch: 2,
      isr: ['n3', 'n1'],
      version: 1, // one CAS: only one controller wrote
    });
  });

  await t.test('a deposed controller cannot write: the epoch fence refuses it', async (st) => {
    const root = newRoot();
    await node(st, root, 'n1');
    const a = await controller(st, root, 'pa', { partitions: 1 });
    await waitFor('pa active', () => a.controller.status().active);
    const staleEpoch = a.controller.status().controllerEpoch!;
    await a.controller.close();
    const b = await controller(st, root, 'pb', { partitions: 1 });
    await waitFor('pb active', () => b.controller.status().active);
    const [state] = await waitFor('partition 0', () => partitions(b.coordinator, 1));
    await assert.rejects(
      a.coordinator.casPartition({ ...state!, leader: null }, state!.version, { controllerEpoch: staleEpoch }),
      (error: unknown) => (error as { code?: string }).code === 'stale_epoch',
    );
    assert.equal((await b.coordinator.getPartition(0))!.leader, 'n1');
  });

  await t.test('a controller whose session expires is deposed, stands by, and the other one acts', async (st) => {
    const root = newRoot();
    const nodes = new Map<string, ZooKeeperCoordinator>();
    for (const id of ['n1', 'n2']) nodes.set(id, await node(st, root, id));
    const proxy = await startProxy(st, zk.connectString);
    const a = await controller(st, root, 'pa', { partitions: 2, replicationFactor: 2 }, proxy.connectString);
    await waitFor('pa active', () => a.controller.status().active);
    const b = await controller(st, root, 'pb', { partitions: 2, replicationFactor: 2 });
    await waitFor('2 partitions', () => partitions(b.coordinator, 2));

    // pa goes silent for longer than its session: ZooKeeper ends the session, pb wins.
    proxy.freeze();
    await waitFor('pb active', () => b.controller.status().active, { timeoutMs: 30_000 });
    proxy.heal();
    // pa learns of the expiry when it reconnects, stops acting and queues behind pb.
    await waitFor('pa deposed', () => !a.controller.status().active, { timeoutMs: 30_000 });
    assert.equal(b.controller.status().active, true);

    await nodes.get('n1')!.close();
    const p0 = await waitFor('partition 0 failed over', async () => {
      const state = await b.coordinator.getPartition(0);
      return state && state.leader === 'n2' ? state : undefined;
    });
    assert.deepEqual({ leaderEpoch: p0.leaderEpoch, isr: p0.isr, version: p0.version }, { leaderEpoch: 2, isr: ['n2'], version: 1 });
    assert.equal(a.controller.status().active, false);

    // pa campaigned again after being deposed: when pb goes, pa is the controller once more.
    const bEpoch = b.controller.status().controllerEpoch!;
    await b.controller.close();
    await b.coordinator.close();
    await waitFor('pa active again', () => a.controller.status().active, { timeoutMs: 30_000 });
    assert.ok(a.controller.status().controllerEpoch! > bEpoch);
  });
});
