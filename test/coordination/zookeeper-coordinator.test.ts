/**
 * The ZooKeeper coordinator against a real ZooKeeper (test/helpers/zookeeper.ts). One server
 * for the file; every test works under its own root. Losing a session is done with a TCP
 * proxy between the coordinator and the server, never by pausing processes.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import type { NodeInfo, PartitionAssignment, PartitionState, SessionState } from '../../src/coordination/coordinator';
import { ZkClient } from '../../src/coordination/zk-client';
import { ZooKeeperCoordinator, type ZooKeeperCoordinatorOptions } from '../../src/coordination/zookeeper-coordinator';
import { isMomError, MomError } from '../../src/core/errors';
import { Logger, parseLogLevel, silentLogger } from '../../src/runtime/logger';
import { freePort, startProxy, startZooKeeper } from '../helpers/zookeeper';
import { waitFor } from '../helpers/wait';

/** MOM_LOG_LEVEL=debug shows the coordinators' logs. */
const logger = new Logger(parseLogLevel(process.env.MOM_LOG_LEVEL, 'silent'));
const SESSION_TIMEOUT_MS = 2_000;

function nodeInfo(id: string): NodeInfo {
  return { id, http: `http://127.0.0.1:${7000 + Number(id.replace(/\D/g, '') || 0)}`, grpc: '127.0.0.1:9000', version: '0.1.0' };
}

function assignment(partition: number, leader: string | null, leaderEpoch = 0): PartitionAssignment {
  return { partition, replicas: ['node-1', 'node-2', 'node-3'], leader, leaderEpoch, isr: ['node-1', 'node-2', 'node-3'] };
}

async function rejectsWithCode(promise: Promise<unknown>, code: MomError['code']): Promise<MomError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isMomError(error), `expected a MomError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected a MomError ${code}, but it resolved`);
}

/** A raw client on the same server, to look at znodes as they are on the wire. */
async function rawClient(t: TestContext, connectString: string): Promise<ZkClient> {
  const client = new ZkClient({ connectString, sessionTimeoutMs: 4_000, operationTimeoutMs: 5_000, logger: silentLogger });
  client.connect();
  t.after(() => client.close());
  await client.waitConnected(10_000);
  return client;
}

async function readJson(client: ZkClient, path: string): Promise<unknown> {
  const node = await client.getData(path);
  return node ? JSON.parse(node.data.toString('utf8')) : undefined;
}

test('ZooKeeperCoordinator against a real ZooKeeper', async (t) => {
  const zk = await startZooKeeper(t);

  /** A started coordinator under `root`, closed when the subtest ends. */
  async function coordinator(
    st: TestContext,
    root: string,
    overrides: Partial<ZooKeeperCoordinatorOptions> = {},
  ): Promise<ZooKeeperCoordinator> {
    const c = new ZooKeeperCoordinator({ connectString: zk.connectString, root, sessionTimeoutMs: SESSION_TIMEOUT_MS, logger, ...overrides });
    st.after(() => c.close());
    await c.start();
    return c;
  }
  const newRoot = (): string => `${zk.root}/${randomUUID()}`;

  await t.test('a registration is listed and watched, and goes when its coordinator closes', async (st) => {
    const root = newRoot();
    const observer = await coordinator(st, root);
    const seen: NodeInfo[][] = [];
    observer.watchNodes((nodes) => seen.push(nodes));
    await waitFor('the first (empty) node list', () => seen.length > 0);
    assert.deepEqual(seen[0], []);

    const member = await coordinator(st, root);
    await member.registerNode(nodeInfo('node-1'));
    assert.deepEqual(await observer.listNodes(), [nodeInfo('node-1')]);
    await waitFor('node-1 in the watch', () => seen.at(-1)?.some((n) => n.id === 'node-1'));

    // Registering again (same id) updates the data in place.
    await member.registerNode({ ...nodeInfo('node-1'), version: '0.2.0' });
    await waitFor('the updated registration', () => seen.at(-1)?.[0]?.version === '0.2.0');
    await rejectsWithCode(member.registerNode(nodeInfo('node-2')), 'conflict');

    // A late listener gets the current list at once.
    const late = await new Promise<NodeInfo[]>((resolve) => observer.watchNodes(resolve));
    assert.deepEqual(late.map((n) => n.id), ['node-1']);

    await member.close();
    await member.close(); // idempotent
    await waitFor('node-1 gone from the watch', () => seen.at(-1)?.length === 0);
    assert.deepEqual(await observer.listNodes(), []);
    await rejectsWithCode(member.listNodes(), 'unavailable');
  });

  await t.test('ensureCluster: the first creator wins', async (st) => {
    const root = newRoot();
    const [a, b] = await Promise.all([coordinator(st, root), coordinator(st, root)]);
    const results = await Promise.all([a.ensureCluster({ partitions: 16 }), b.ensureCluster({ partitions: 8 })]);
    assert.deepEqual(results[0], results[1]);
    assert.ok([8, 16].includes(results[0].partitions));
    assert.deepEqual(await a.ensureCluster({ partitions: 3 }), results[0]);
    const raw = await rawClient(st, zk.connectString);
    assert.deepEqual(await readJson(raw, `${root}/cluster`), { partitions: results[0].partitions });
  });

  await t.test('partitions: create once, compare-and-set on the version, watched', async (st) => {
    const root = newRoot();
    const c = await coordinator(st, root);
    const seen: PartitionState[][] = [];
    c.watchPartitions((states) => seen.push(states));
    await waitFor('the first (empty) partition map', () => seen.length > 0);

    assert.equal(await c.createPartition(assignment(0, 'node-1')), true);
    assert.equal(await c.createPartition(assignment(0, 'node-2')), false);
    assert.equal(await c.createPartition(assignment(1, null)), true);
    const p0 = await c.getPartition(0);
    assert.deepEqual(p0, { ...assignment(0, 'node-1'), version: 0 });
    assert.equal(await c.getPartition(7), undefined);

    const raw = await rawClient(st, zk.connectString);
    assert.deepEqual(await readJson(raw, `${root}/partitions/0`), {
      replicas: ['node-1', 'node-2', 'node-3'],
      leader: 'node-1',
      leader_epoch: 0,
      isr: ['node-1', 'node-2', 'node-3'],
    });

    const next = { ...assignment(0, 'node-2', 1), isr: ['node-2', 'node-3'] };
    const written = await c.casPartition(next, 0);
    assert.deepEqual(written, { ...next, version: 1 });
    assert.equal(await c.casPartition(assignment(0, 'node-3', 2), 0), undefined, 'a stale version must not write');
    assert.equal(await c.casPartition(assignment(9, 'node-3'), 0), undefined, 'no such partition');
    assert.deepEqual(await c.getPartition(0), written);

    await waitFor('the watch to show the new leader of 0', () => {
      const map = seen.at(-1);
      return map?.length === 2 && map[0]!.leader === 'node-2' && map[0]!.version === 1 && map[1]!.leader === null;
    });
    assert.deepEqual(await c.listPartitions(), seen.at(-1));
    await rejectsWithCode(c.casPartition(next, -1), 'bad_request');
  });

  await t.test('exchanges: create, list, get, delete', async (st) => {
    const c = await coordinator(st, newRoot());
    const first = await c.createExchange('logs');
    assert.equal(first.created, true);
    assert.equal(first.exchange.name, 'logs');
    const again = await c.createExchange('logs');
    assert.deepEqual(again, { created: false, exchange: first.exchange });
    await c.createExchange('billing');
    assert.deepEqual((await c.listExchanges()).map((e) => e.name), ['billing', 'logs']);
    assert.deepEqual(await c.getExchange('logs'), first.exchange);
    assert.equal(await c.getExchange('nope'), undefined);
    assert.equal(await c.deleteExchange('logs'), true);
    assert.equal(await c.deleteExchange('logs'), false);
    assert.deepEqual((await c.listExchanges()).map((e) => e.name), ['billing']);
    await rejectsWithCode(c.createExchange('../x'), 'invalid_name');
  });

  await t.test('election: one controller; when it leaves the next one wins with a higher epoch', async (st) => {
    const root = newRoot();
    const a = await coordinator(st, root);
    const b = await coordinator(st, root);
    const raw = await rawClient(st, zk.connectString);

    const ea = a.campaign('partitioner-a');
    const epochA = await ea.elected;
    assert.equal(ea.isLeader(), true);
    assert.deepEqual(await readJson(raw, `${root}/controller`), { id: 'partitioner-a', epoch: epochA });

    const eb = b.campaign('partitioner-b');
    let bElected = false;
    void eb.elected.then(() => (bElected = true));
    // b is queued behind a: its candidate node exists and it is not the controller.
    await waitFor('two candidates', async () => ((await raw.getChildren(`${root}/controller_election`)) ?? []).length === 2);
    assert.equal(eb.isLeader(), false);
    assert.equal(bElected, false);

    let aDeposed = false;
    ea.onDeposed(() => (aDeposed = true));
    await a.close(); // its session ends: candidate and controller nodes go
    const epochB = await eb.elected;
    assert.equal(epochB, epochA + 1);
    assert.equal(eb.isLeader(), true);
    assert.equal(aDeposed, false, 'closing is not being deposed');
    assert.deepEqual(await readJson(raw, `${root}/controller`), { id: 'partitioner-b', epoch: epochB });
    assert.equal((await raw.getData(`${root}/controller_epoch`))?.data.toString(), String(epochB));

    await eb.resign();
    await eb.resign(); // idempotent
    assert.equal(eb.isLeader(), false);
    await waitFor('the controller node to go', async () => (await raw.exists(`${root}/controller`)) === undefined);
    assert.deepEqual((await raw.getChildren(`${root}/controller_election`)) ?? [], []);
  });

  await t.test("fencing: a deposed controller's writes fail once another controller is elected", async (st) => {
    const root = newRoot();
    const a = await coordinator(st, root);
    const b = await coordinator(st, root);
    const ea = a.campaign('partitioner-a');
    const epochA = await ea.elected;
    assert.equal(await a.createPartition(assignment(0, 'node-1'), { controllerEpoch: epochA }), true);
    const p0 = (await a.getPartition(0))!;
    const p0b = (await a.casPartition(assignment(0, 'node-2', 1), p0.version, { controllerEpoch: epochA }))!;
    assert.equal(p0b.version, 1);

    const eb = b.campaign('partitioner-b');
    await ea.resign();
    const epochB = await eb.elected;
    assert.ok(epochB > epochA);

    // a still has a live session, but its epoch is stale.
    const stale = await rejectsWithCode(a.casPartition(assignment(0, 'node-3', 2), p0b.version, { controllerEpoch: epochA }), 'stale_epoch');
    assert.equal(stale.retryable, false);
    await rejectsWithCode(a.createPartition(assignment(1, 'node-1'), { controllerEpoch: epochA }), 'stale_epoch');
    assert.deepEqual(await b.getPartition(0), p0b, 'the fenced write changed nothing');
    assert.equal(await b.getPartition(1), undefined);

    // The new controller writes; a stale version is still a plain conflict for it.
    const p0c = await b.casPartition(assignment(0, 'node-3', 2), p0b.version, { controllerEpoch: epochB });
    assert.equal(p0c?.version, 2);
    assert.equal(await b.casPartition(assignment(0, 'node-1', 3), p0b.version, { controllerEpoch: epochB }), undefined);
  });

  await t.test('a candidacy withdrawn before winning rejects `elected`', async (st) => {
    const root = newRoot();
    const a = await coordinator(st, root);
    const ea = a.campaign('a');
    await ea.elected;
    const eb = a.campaign('b');
    await eb.resign();
    await rejectsWithCode(eb.elected, 'unavailable');
    assert.equal(eb.isLeader(), false);
    assert.equal(ea.isLeader(), true);
  });

  await t.test('session expiry: new session, registration and watches back, controller deposed and fenced', async (st) => {
    const root = newRoot();
    const proxy = await startProxy(st, zk.connectString);
    const a = await coordinator(st, root, { connectString: proxy.connectString });
    const b = await coordinator(st, root);

    const states: SessionState[] = [];
    a.onSessionState((state) => states.push(state));
    await a.registerNode(nodeInfo('node-1'));
    const aSeen: NodeInfo[][] = [];
    a.watchNodes((nodes) => aSeen.push(nodes));
    const bSeen: NodeInfo[][] = [];
    b.watchNodes((nodes) => bSeen.push(nodes));
    await waitFor('b to see node-1', () => bSeen.at(-1)?.some((n) => n.id === 'node-1'));

    const ea = a.campaign('partitioner-a');
    const epochA = await ea.elected;
    let deposed = 0;
    ea.onDeposed(() => deposed++);
    const eb = b.campaign('partitioner-b');
    assert.equal(await a.createPartition(assignment(0, 'node-1'), { controllerEpoch: epochA }), true);
    const sessionBefore = a.sessionId();

    proxy.cut();
    await waitFor("a to notice it's cut off", () => a.sessionState() === 'disconnected');
    // ZooKeeper expires the session after its timeout: node-1 goes, b takes over as controller.
    await waitFor('node-1 to expire', () => bSeen.at(-1)?.length === 0, { timeoutMs: 4 * SESSION_TIMEOUT_MS + 10_000 });
    const epochB = await eb.elected;
    assert.equal(epochB, epochA + 1);
    assert.equal(ea.isLeader(), true, 'a cannot know yet: it learns of the expiry when it reconnects');

    proxy.heal();
    await waitFor(() => `a's new session (states: ${states.join(', ')})`, () => states.includes('expired') && states.lastIndexOf('connected') > states.indexOf('expired'));
    assert.equal(a.sessionState(), 'connected');
    assert.notEqual(a.sessionId(), sessionBefore);
    assert.equal(deposed, 1);
    assert.equal(ea.isLeader(), false);

    // Registration is back, seen by b and by a's own (re-armed) watch.
    await waitFor('b to see node-1 again', () => bSeen.at(-1)?.some((n) => n.id === 'node-1'));
    assert.deepEqual((await b.listNodes()).map((n) => n.id), ['node-1']);
    await b.registerNode(nodeInfo('node-2'));
    await waitFor("a's watch to see node-2", () => aSeen.at(-1)?.map((n) => n.id).join() === 'node-1,node-2');

    // The deposed controller's writes are refused; the new one's go through.
    const p0 = (await a.getPartition(0))!;
    await rejectsWithCode(a.casPartition(assignment(0, 'node-2', 1), p0.version, { controllerEpoch: epochA }), 'stale_epoch');
    assert.equal((await b.casPartition(assignment(0, 'node-2', 1), p0.version, { controllerEpoch: epochB }))?.version, 1);
  });

  await t.test('a short disconnection keeps the session and the registration', async (st) => {
    const root = newRoot();
    const proxy = await startProxy(st, zk.connectString);
    // A long timeout, so the cut below is short compared with it even on a busy machine.
    const a = await coordinator(st, root, { connectString: proxy.connectString, sessionTimeoutMs: 20_000 });
    const b = await coordinator(st, root);
    const states: SessionState[] = [];
    a.onSessionState((state) => states.push(state));
    await a.registerNode(nodeInfo('node-1'));
    const sessionBefore = a.sessionId();

    proxy.cut();
    await waitFor('a disconnected', () => a.sessionState() === 'disconnected');
    // Work issued while disconnected waits for the connection (bounded by the operation timeout).
    const pending = a.createExchange('during-cut');
    proxy.heal();
    await waitFor('a reconnected', () => a.sessionState() === 'connected');
    assert.equal((await pending).created, true);
    assert.deepEqual(states, ['disconnected', 'connected']);
    assert.equal(a.sessionId(), sessionBefore);
    assert.deepEqual((await b.listNodes()).map((n) => n.id), ['node-1']);
  });

  await t.test('a server that stops answering is noticed within the session timeout', async (st) => {
    const root = newRoot();
    const proxy = await startProxy(st, zk.connectString);
    const a = await coordinator(st, root, { connectString: proxy.connectString });
    await a.registerNode(nodeInfo('node-1'));
    const frozenAt = Date.now();
    proxy.freeze(); // sockets stay open, nothing comes back
    await waitFor('a to drop the silent connection', () => a.sessionState() === 'disconnected', { timeoutMs: 4 * SESSION_TIMEOUT_MS });
    const noticedAfter = Date.now() - frozenAt;
    assert.ok(noticedAfter <= 1.5 * SESSION_TIMEOUT_MS, `noticed after ${noticedAfter} ms`);
    // Reconnection attempts reach a server that accepts the socket and never answers the
    // session request: each is given up after a deadline and tried again.
    const attempts = proxy.accepted();
    await waitFor('a second unanswered reconnection attempt', () => proxy.accepted() >= attempts + 2, { timeoutMs: 4 * SESSION_TIMEOUT_MS });
    proxy.heal();
    await waitFor('a connected again', () => a.sessionState() === 'connected');
    assert.deepEqual((await a.listNodes()).map((n) => n.id), ['node-1']);
  });

  await t.test('a ZooKeeper restart keeps sessions and state', async (st) => {
    // A server of this test's own: an external ensemble (ZOOKEEPER=…) cannot be restarted.
    const own = await startZooKeeper(st, { own: true });
    const a = new ZooKeeperCoordinator({ connectString: own.connectString, root: own.root, sessionTimeoutMs: 10_000, logger });
    st.after(() => a.close());
    await a.start();
    await a.registerNode(nodeInfo('node-1'));
    await a.createExchange('logs');
    const sessionBefore = a.sessionId();
    const states: SessionState[] = [];
    a.onSessionState((state) => states.push(state));
    await own.restart!();
    await waitFor(() => `a disconnected then connected (states: ${states.join(', ')})`, () => states.includes('disconnected') && a.sessionState() === 'connected');
    assert.equal(a.sessionId(), sessionBefore);
    assert.deepEqual((await a.listNodes()).map((n) => n.id), ['node-1']);
    assert.deepEqual((await a.listExchanges()).map((e) => e.name), ['logs']);
  });

  await t.test('the session timeout is the one ZooKeeper granted', async (st) => {
    const c = await coordinator(st, newRoot(), { sessionTimeoutMs: 1_000_000 });
    const granted = c.sessionTimeoutMs();
    assert.ok(granted > 0 && granted < 1_000_000, `granted ${granted}`);
    const d = await coordinator(st, newRoot());
    assert.equal(d.sessionTimeoutMs(), SESSION_TIMEOUT_MS);
  });

  await t.test('errors: unreachable ZooKeeper, work before start and after close', async (st) => {
    const port = await freePort(); // nothing listens there
    const c = new ZooKeeperCoordinator({ connectString: `127.0.0.1:${port}`, sessionTimeoutMs: 2_000, logger, connectTimeoutMs: 1_000 });
    st.after(() => c.close());
    await rejectsWithCode(c.listNodes(), 'unavailable');
    const error = await rejectsWithCode(c.start(), 'unavailable');
    assert.match(error.message, new RegExp(`ZooKeeper at 127\\.0\\.0\\.1:${port} is unreachable`));
    await c.close();
    await c.close();
    await rejectsWithCode(c.start(), 'unavailable');
    assert.throws(() => c.campaign('x'), (e: unknown) => isMomError(e) && e.code === 'unavailable');
    assert.throws(
      () => new ZooKeeperCoordinator({ connectString: zk.connectString, root: 'mom', sessionTimeoutMs: 2_000, logger }),
      (e: unknown) => isMomError(e) && e.code === 'config_invalid',
    );
  });
});
