import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { partitionOf } from '../../../src/core/hash';
import { PartitionerRoutes } from '../../../src/roles/gateway/partitioner-routes';
import { silentLogger } from '../../../src/runtime/logger';

/** A real HTTP server answering GET /partitions with a map that names `leader` everywhere. */
async function fakePartitioner(leader: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const partitions = Array.from({ length: 4 }, (_, partition) => ({
      partition,
      leader,
      node_location: `http://127.0.0.1:1000${partition}`,
      replicas: [leader],
      isr: [leader],
      leader_epoch: 1,
    }));
    res.writeHead(req.url === '/partitions' ? 200 : 404, { 'content-type': 'application/json' });
    const nodes = [{ id: leader, http: 'http://127.0.0.1:10000', grpc: '127.0.0.1:11000', version: '0.1.0' }];
    res.end(JSON.stringify({ partitions, controller: null, nodes }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

test('a gateway given several partitioners reads the map from one that answers', async (t) => {
  const down = await fakePartitioner('never');
  await new Promise<void>((resolve) => down.server.close(() => resolve()));
  const up = await fakePartitioner('node-2');
  t.after(() => new Promise<void>((resolve) => up.server.close(() => resolve())));
  const routes = new PartitionerRoutes(`${down.url},${up.url}`, silentLogger);
  t.after(() => routes.close());
  await routes.start();
  const route = routes.route('shop', 'orders');
  assert.equal(route.partition, partitionOf('shop', 'orders', 4));
  assert.equal(route.leader, 'node-2');
  assert.equal(routes.all().length, 4);
  const view = routes.describe();
  assert.deepEqual(view?.nodes.map((node) => node.id), ['node-2'], 'the live nodes, for the gateway\'s GET /partitions');
  assert.deepEqual(view?.partitions[3], { partition: 3, leader: 'node-2', node_location: 'http://127.0.0.1:10003', replicas: ['node-2'], isr: ['node-2'], leader_epoch: 1 });
});

test('with no partitioner reachable the map is unavailable, with a retryable error', async (t) => {
  const down = await fakePartitioner('never');
  await new Promise<void>((resolve) => down.server.close(() => resolve()));
  const routes = new PartitionerRoutes(down.url, silentLogger);
  t.after(() => routes.close());
  await routes.start();
  assert.throws(() => routes.route('shop', 'orders'), (error: { code?: string; retryable?: boolean }) => error.code === 'unavailable' && error.retryable === true);
  assert.equal(routes.describe(), undefined, 'no map to describe');
});
