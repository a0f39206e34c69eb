/**
 * The controller election recipe (DESIGN §4) over an in-memory ZooKeeper
 * (test/helpers/fake-zookeeper.ts), no server: who wins and with which epoch, that standbys
 * watch only their predecessor, and the recoveries a real server rarely shows on demand (a
 * lost create answer, a controller_epoch written by hand). Elections over a real ZooKeeper
 * are in test/coordination/zookeeper-coordinator.test.ts.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { ZkControllerElection } from '../../src/coordination/controller-election';
import { ZkLayout } from '../../src/coordination/zk-layout';
import type { MomError } from '../../src/core/errors';
import { silentLogger } from '../../src/runtime/logger';
import { FakeSessionHost, FakeZooKeeper, type FakeSession } from '../helpers/fake-zookeeper';
import { waitFor } from '../helpers/wait';

const layout = new ZkLayout('/mom');
/** A recipe that stops making progress fails its test instead of hanging the run. */
const TIMEOUT_MS = 15_000;

interface Candidate {
  election: ZkControllerElection;
  host: FakeSessionHost;
  session: FakeSession;
  finished: () => boolean;
}

function world(): FakeZooKeeper {
  return new FakeZooKeeper('/mom', layout.election);
}

/** A candidate on a session of its own, campaigning as its coordinator starts it (a kick on connection). */
function campaign(t: TestContext, zk: FakeZooKeeper, id: string, session = zk.session()): Candidate {
  const host = new FakeSessionHost(session);
  let finished = false;
  const election = new ZkControllerElection(host, layout, id, silentLogger, () => (finished = true));
  t.after(() => election.abandon());
  election.kick();
  return { election, host, session, finished: () => finished };
}

/** The candidates' nodes in sequence order (their names start with a random tag). */
function queue(zk: FakeZooKeeper): string[] {
  return zk.children(layout.election).sort((x, y) => Number(x.slice(-10)) - Number(y.slice(-10)));
}

function controllerRecord(zk: FakeZooKeeper): unknown {
  const node = zk.znodes.get(layout.controller);
  return node && JSON.parse(node.data.toString('utf8'));
}

function controllerEpochNode(zk: FakeZooKeeper): { value: string; version: number } | undefined {
  const node = zk.znodes.get(layout.controllerEpoch);
  return node && { value: node.data.toString('utf8'), version: node.version };
}

test('the first candidate creates controller_epoch, wins epoch 1 and records itself as the controller', { timeout: TIMEOUT_MS }, async (t) => {
  const zk = world();
  const a = campaign(t, zk, 'part-a');
  assert.equal(await a.election.elected, 1);
  assert.equal(a.election.isLeader(), true);
  assert.equal(a.election.controllerEpoch(), 1);
  assert.deepEqual(controllerRecord(zk), { id: 'part-a', epoch: 1 });
  assert.deepEqual(controllerEpochNode(zk), { value: '1', version: 1 }, 'the epoch equals its znode version');
  assert.equal(zk.znodes.get(layout.controller)!.owner, a.session, 'the controller node is ephemeral: it goes with the session');
  assert.equal(zk.children(layout.election).length, 1);
});

test('standbys queue in order, each watching only its predecessor; when the leader expires the next wins the next epoch', { timeout: TIMEOUT_MS }, async (t) => {
  const zk = world();
  const a = campaign(t, zk, 'part-a');
  await a.election.elected;
  let deposed = 0;
  a.election.onDeposed(() => deposed++);
  const b = campaign(t, zk, 'part-b');
  await waitFor('b to watch its predecessor', () => b.session.calls.some((call) => call.startsWith('exists /mom/controller_election/')));
  const c = campaign(t, zk, 'part-c');
  await waitFor('c to watch its predecessor', () => c.session.calls.some((call) => call.startsWith('exists /mom/controller_election/')));
  const [nodeA, nodeB] = queue(zk);
  assert.ok(b.session.calls.includes(`exists ${layout.election}/${nodeA}`));
  assert.ok(c.session.calls.includes(`exists ${layout.election}/${nodeB}`), 'c watches b, not the leader');
  const cCalls = c.session.calls.length;

  a.session.expire();
  a.election.sessionExpired();
  assert.equal(await b.election.elected, 2);
  assert.deepEqual(controllerRecord(zk), { id: 'part-b', epoch: 2 });
  assert.equal(c.session.calls.length, cCalls, 'the departure woke b only (no herd)');
  assert.equal(c.election.isLeader(), false);
  assert.deepEqual([a.election.isLeader(), deposed, a.finished()], [false, 1, true]);

  await b.election.resign();
  assert.equal(await c.election.elected, 3);
  assert.deepEqual(controllerRecord(zk), { id: 'part-c', epoch: 3 });
});

test('a candidate whose create answer was lost finds its own node again instead of queueing twice', { timeout: TIMEOUT_MS }, async (t) => {
  const zk = world();
  const session = zk.session();
  session.loseNextCreate();
  const a = campaign(t, zk, 'part-a', session);
  assert.equal(await a.election.elected, 1, 'it retries, and wins with the node it had created');
  assert.equal(zk.children(layout.election).length, 1);
  assert.equal(session.calls.filter((call) => call.startsWith('create /mom/controller_election/')).length, 1);
});

test('a controller_epoch whose value is not its version (written by hand) elects nobody until it is consistent again', { timeout: TIMEOUT_MS }, async (t) => {
  const zk = world();
  zk.write(layout.controllerEpoch, '5');
  const a = campaign(t, zk, 'part-a');
  const claims = () => a.session.calls.filter((call) => call === `getData ${layout.controllerEpoch}`).length;
  await waitFor('a second attempt to claim', () => claims() >= 2);
  assert.equal(a.election.isLeader(), false);
  assert.equal(zk.znodes.get(layout.controller), undefined, 'no controller was recorded');
  // Written again by hand: value 1 at version 1. The next attempt wins the epoch after it.
  zk.write(layout.controllerEpoch, '1');
  assert.equal(await a.election.elected, 2);
});

test('a controller node left behind (here written by hand) is replaced by the winner', { timeout: TIMEOUT_MS }, async (t) => {
  const zk = world();
  zk.write(layout.controller, JSON.stringify({ id: 'gone', epoch: 7 }));
  const a = campaign(t, zk, 'part-a');
  assert.equal(await a.election.elected, 1);
  assert.deepEqual(controllerRecord(zk), { id: 'part-a', epoch: 1 });
});

test('resigning before winning rejects `elected` and leaves the queue; after winning it removes its controller node', { timeout: TIMEOUT_MS }, async (t) => {
  const zk = world();
  const a = campaign(t, zk, 'part-a');
  await a.election.elected;
  const b = campaign(t, zk, 'part-b');
  await waitFor('b in the queue', () => zk.children(layout.election).length === 2);
  await b.election.resign();
  await assert.rejects(b.election.elected, (error: MomError) => error.code === 'unavailable');
  assert.equal(zk.children(layout.election).length, 1);
  assert.equal(b.finished(), true);

  await a.election.resign();
  await a.election.resign();
  assert.equal(a.election.isLeader(), false);
  assert.equal(zk.znodes.get(layout.controller), undefined);
  assert.deepEqual(zk.children(layout.election), []);
});

test("resigning leaves a newer controller's record alone", { timeout: TIMEOUT_MS }, async (t) => {
  const zk = world();
  const a = campaign(t, zk, 'part-a');
  await a.election.elected;
  zk.write(layout.controller, JSON.stringify({ id: 'part-z', epoch: 9 }));
  await a.election.resign();
  assert.deepEqual(controllerRecord(zk), { id: 'part-z', epoch: 9 });
  assert.deepEqual(zk.children(layout.election), []);
});

test('a standby whose session expires queues again on its next session, and wins when its turn comes', { timeout: TIMEOUT_MS }, async (t) => {
  const zk = world();
  const a = campaign(t, zk, 'part-a');
  await a.election.elected;
  const b = campaign(t, zk, 'part-b');
  await waitFor('b in the queue', () => zk.children(layout.election).length === 2);
  b.session.expire();
  b.election.sessionExpired();
  assert.equal(zk.children(layout.election).length, 1, 'its candidate node went with the session');
  // Its coordinator opens a new session and kicks every election on connection.
  b.host.session = zk.session();
  b.election.kick();
  await waitFor('b in the queue again', () => zk.children(layout.election).length === 2);
  await a.election.resign();
  assert.equal(await b.election.elected, 2);
});
