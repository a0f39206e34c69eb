/**
 * The partitioner's HTTP API over a real ZooKeeper: nodes are registrations made through
 * coordinators of their own, the role runs its controller, and requests are real HTTP.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { ZooKeeperCoordinator } from '../../../src/coordination/zookeeper-coordinator';
import { partitionOf } from '../../../src/core/hash';
import { HttpServer } from '../../../src/http/server';
import { Logger, parseLogLevel } from '../../../src/runtime/logger';
import { PartitionerRole } from '../../../src/roles/partitioner/partitioner-role';
import { startZooKeeper } from '../../helpers/zookeeper';
import { waitFor } from '../../helpers/wait';

const logger = new Logger(parseLogLevel(process.env.MOM_LOG_LEVEL, 'silent'));

interface PartitionsAnswer {
  partitions: Array<{ partition: number; leader: string | null; node_location: string | null; replicas: string[]; isr: string[]; leader_epoch: number }>;
  controller: { id: string; epoch: number } | null;
  nodes: Array<{ id: string; http: string }>;
}

test('the partitioner role over a real ZooKeeper', async (t) => {
  const zk = await startZooKeeper(t);

  async function coordinator(st: TestContext, root: string): Promise<ZooKeeperCoordinator> {
    const c = new ZooKeeperCoordinator({ connectString: zk.connectString, root, sessionTimeoutMs: 4_000, logger });
    st.after(() => c.close());
    await c.start();
    return c;
  }

  async function partitioner(st: TestContext, root: string, id: string): Promise<string> {
    const role = new PartitionerRole({
      coordinator: await coordinator(st, root),
      candidateId: id,
      partitions: 4,
      replicationFactor: 2,
      uncleanElection: false,
      placementGraceMs: 200,
      logger,
    });
    await role.start();
    const http = new HttpServer({ host: '127.0.0.1', port: 0, logger });
    http.mount(role.router);
    await http.start();
    st.after(async () => {
      await http.close();
      await role.close();
    });
    return http.url();
  }

  const nodeUrl = (id: string): string => `http://127.0.0.1:${7000 + Number(id.slice(1))}`;
  async function node(st: TestContext, root: string, id: string): Promise<ZooKeeperCoordinator> {
    const c = await coordinator(st, root);
    await c.registerNode({ id, http: nodeUrl(id), grpc: '', version: 'test' });
    return c;
  }

  const getPartitions = async (url: string): Promise<PartitionsAnswer> => (await (await fetch(`${url}/partitions`)).json()) as PartitionsAnswer;
  const routing = (url: string, body: string) => fetch(`${url}/routing`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  await t.test('GET /partitions shows the placed map, the controller and the nodes; POST /routing finds a key', async (st) => {
    const root = `${zk.root}/${randomUUID()}`;
    const n1 = await node(st, root, 'n1');
    await node(st, root, 'n2');
    const url = await partitioner(st, root, 'part-1');
    const map = await waitFor('4 placed partitions', async () => {
      const answer = await getPartitions(url);
      return answer.partitions.every((p) => p.leader !== null) ? answer : undefined;
    });
    assert.deepEqual(map.controller?.id, 'part-1');
    assert.ok(map.controller!.epoch >= 1);
    assert.deepEqual(map.nodes.map((n) => n.id), ['n1', 'n2']);
    assert.deepEqual(map.partitions[1], { partition: 1, leader: 'n2', node_location: nodeUrl('n2'), replicas: ['n2', 'n1'], leader_epoch: 1, isr: ['n2', 'n1'] });

    const partition = partitionOf('logs', 'jobs', 4);
    const response = await routing(url, '{"exchange":"logs","routing_key":"jobs"}');
    assert.equal(response.status, 200);
    const expected = map.partitions[partition]!;
    assert.deepEqual(await response.json(), {
      partition,
      leader: expected.leader,
      node_location: expected.node_location,
      replicas: expected.replicas,
      leader_epoch: expected.leader_epoch,
    });

    // The answers follow the controller's failover.
    await n1.close();
    const after = await waitFor('n2 leading everything', async () => {
      const answer = await getPartitions(url);
      return answer.partitions.every((p) => p.leader === 'n2') && answer.nodes.length === 1 ? answer : undefined;
    });
    assert.deepEqual(after.partitions[0], { partition: 0, leader: 'n2', node_location: nodeUrl('n2'), replicas: ['n1', 'n2'], leader_epoch: 2, isr: ['n2'] });
  });

  await t.test('a standby partitioner answers the same map and names no controller of its own', async (st) => {
    const root = `${zk.root}/${randomUUID()}`;
    await node(st, root, 'n1');
    const active = await partitioner(st, root, 'part-a');
    await waitFor('the map', async () => (await getPartitions(active)).partitions.every((p) => p.leader === 'n1'));
    const standby = await partitioner(st, root, 'part-b');
    const map = await waitFor('the standby to see the map', async () => {
      const answer = await getPartitions(standby);
      return answer.partitions.every((p) => p.leader === 'n1') ? answer : undefined;
    });
    assert.equal(map.controller, null);
    assert.equal((await getPartitions(active)).controller?.id, 'part-a');
  });

  await t.test('POST /routing refuses bad bodies and invalid names with 400', async (st) => {
    const root = `${zk.root}/${randomUUID()}`;
    const url = await partitioner(st, root, 'part-1');
    for (const [body, code] of [
      ['not json', 'bad_request'],
      ['[]', 'bad_request'],
      ['{"exchange":"logs"}', 'bad_request'],
      ['{"exchange":"logs","routing_key":7}', 'bad_request'],
      ['{"exchange":".x","routing_key":"jobs"}', 'invalid_name'],
      ['{"exchange":"logs","routing_key":"a/b"}', 'invalid_name'],
    ] as const) {
      const response = await routing(url, body);
      assert.equal(response.status, 400, body);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, code, body);
    }
    // Before any node exists the key still has a partition, just no leader.
    const response = await routing(url, '{"exchange":"logs","routing_key":"jobs"}');
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { partition: partitionOf('logs', 'jobs', 4), leader: null, node_location: null, replicas: [], leader_epoch: 0 });
  });
});
