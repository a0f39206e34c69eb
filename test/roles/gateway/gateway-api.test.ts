/**
 * The gateway's /v1 proxy over the real pieces: a ZooKeeper, the controller, the gateway's
 * PartitionMap watching the map, and two HTTP servers registered as nodes. When the leader's
 * node dies, a request through the gateway lands on the node the controller elects.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ZooKeeperCoordinator } from '../../../src/coordination/zookeeper-coordinator';
import { HttpServer } from '../../../src/http/server';
import { createTokenVerifier } from '../../../src/http/token-verifier';
import { Logger, parseLogLevel } from '../../../src/runtime/logger';
import { loadOrCreateSigningKey } from '../../../src/roles/auth/signing-key';
import { TokenIssuer } from '../../../src/roles/auth/token-issuer';
import { Forwarder } from '../../../src/roles/gateway/forwarder';
import { buildGatewayApi, routeSourceFromTable } from '../../../src/roles/gateway/gateway-api';
import { PartitionMap } from '../../../src/coordination/partition-map';
import { Controller } from '../../../src/roles/partitioner/controller';
import { startZooKeeper } from '../../helpers/zookeeper';

const logger = new Logger(parseLogLevel(process.env.MOM_LOG_LEVEL, 'silent'));

interface Node {
  id: string;
  url: string;
  hits: string[];
  server: Server;
  coordinator: ZooKeeperCoordinator;
}

test('through the gateway, a request follows a failover to the new leader', async (t) => {
  const zk = await startZooKeeper(t);
  const root = zk.root;

  async function coordinator(st: TestContext): Promise<ZooKeeperCoordinator> {
    const c = new ZooKeeperCoordinator({ connectString: zk.connectString, root, sessionTimeoutMs: 4_000, logger });
    st.after(() => c.close());
    await c.start();
    return c;
  }

  /** An HTTP server that answers as node `id`, registered under its real URL. */
  async function node(id: string): Promise<Node> {
    const hits: string[] = [];
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        hits.push(`${req.method} ${req.url}`);
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ids: [id] }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const c = await coordinator(t);
    await c.registerNode({ id, http: url, grpc: '', version: 'test' });
    return { id, url, hits, server, coordinator: c };
  }

  const n1 = await node('n1');
  const n2 = await node('n2');
  // One partition, so the key's leader is known: n1 first, n2 after it.
  const controller = new Controller({ coordinator: await coordinator(t), candidateId: 'p1', partitions: 1, replicationFactor: 2, logger });
  t.after(() => controller.close());
  await controller.start();

  const table = new PartitionMap(await coordinator(t));
  await table.start(1);
  t.after(() => table.close());
  const dir = mkdtempSync(join(tmpdir(), 'mom-gateway-api-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const key = await loadOrCreateSigningKey(dir);
  const { token } = await new TokenIssuer(key, { ttlSeconds: 600 }).issue({ userId: 1, username: 'alice', admin: true, grants: [] });
  // Wired as the gateway role wires it (src/roles/broker-process.ts).
  const forwarder = new Forwarder({ routes: routeSourceFromTable(table), verifier: createTokenVerifier({ jwks: key.jwks }), logger, bodyLimit: 1024 * 1024, retryDeadlineMs: 10_000 });
  const http = new HttpServer({ host: '127.0.0.1', port: 0, logger });
  http.mount(buildGatewayApi(forwarder));
  await http.start();
  t.after(async () => {
    await http.close();
    await forwarder.close();
  });

  const publish = async (): Promise<{ status: number; body: unknown }> => {
    const response = await fetch(`${http.url()}/v1/exchanges/logs/queues/jobs/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"payload":"hello"}',
    });
    return { status: response.status, body: await response.json() };
  };

  // Until the controller has placed the partition the gateway waits; then n1 answers.
  assert.deepEqual(await publish(), { status: 201, body: { ids: ['n1'] } });
  assert.equal(table.routeOf(0).leader, 'n1');

  // n1 dies: its HTTP port closes and its registration goes with its session.
  await new Promise<void>((resolve) => {
    n1.server.close(() => resolve());
    n1.server.closeAllConnections();
  });
  await n1.coordinator.close();
  assert.deepEqual(await publish(), { status: 201, body: { ids: ['n2'] } });
  assert.deepEqual(n1.hits, ['POST /v1/exchanges/logs/queues/jobs/messages']);
  assert.deepEqual(n2.hits, ['POST /v1/exchanges/logs/queues/jobs/messages']);
  const route = table.routeOf(0);
  assert.deepEqual({ leader: route.leader, node_location: route.node_location, leader_epoch: route.leader_epoch }, { leader: 'n2', node_location: n2.url, leader_epoch: 2 });
});
