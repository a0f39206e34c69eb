/**
 * A cluster with TLS everywhere (DESIGN §5, §7; issue 11 §4): every process serves HTTPS and
 * announces https:// URLs (the map's node locations too); the gateway reaches auth, the
 * partitioner and the nodes over HTTPS trusting `--tls-ca`; nodes fetch the JWKS and user
 * state from auth over HTTPS and reach each other over HTTPS (a forced exchange delete
 * purges partitions led elsewhere); replicators fetch from each other over mutual TLS, so
 * ISRs fill and `acks=all` publishes are acknowledged, a failover elects a new leader whose
 * followers fetch from it, and a restarted node catches up. A plaintext follower is refused.
 */
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { test } from 'node:test';
import { connect } from '../../src/client';
import { login } from '../helpers/broker';
import { startCluster } from '../helpers/cluster';
import { Api, runCli, uniqueName } from '../helpers/http-api';
import { waitFor } from '../helpers/wait';
import { rawFetch } from '../helpers/replication';
import { nameInPartition } from '../helpers/workloads';

test('a cluster over HTTPS with mutual TLS between replicators', { timeout: 240_000 }, async (t) => {
  const cluster = await startCluster(t, { nodes: 3, partitions: 4, tls: true });
  const { ca } = cluster.tls!;

  await t.test('every process announces https://, and so does the map', async () => {
    for (const url of [cluster.gatewayUrl, cluster.authUrl, ...cluster.partitionerUrls, ...[...cluster.nodes.values()].map((n) => n.url)]) {
      assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
    }
    const map = await cluster.partitionMap();
    for (const node of map.nodes) assert.match(node.http, /^https:\/\//, `${node.id} registered an https:// URL`);
    for (const p of map.partitions) assert.match(p.node_location ?? '', /^https:\/\//, `p${p.partition}'s location`);
    for (const node of cluster.nodes.values()) assert.match(node.log(), /"msg":"listening".*"grpc_tls":"mutual"/, `${node.id} replicates over mutual TLS`);
  });

  await t.test('a follower without a certificate is refused by every replicator', async () => {
    for (const node of cluster.nodes.values()) {
      const result = await rawFetch(node.grpc!, { partition: 0, followerId: 'intruder' }, cluster.clusterSecret);
      assert.equal(result.ok, false, `${node.id} refused a plaintext fetch`);
      if (!result.ok) assert.equal(result.error.code, status.UNAVAILABLE, `${node.id}: the handshake failed`);
    }
  });

  const exchange = uniqueName('tls');
  // Retries outlast a failover on a busy machine (session timeout + election).
  const connection = await connect({ url: cluster.gatewayUrl, user: 'admin', password: cluster.adminPassword, ca: ca.pem, retryDeadlineMs: 30_000 });
  t.after(() => connection.close());

  await t.test('the SDK through the gateway: login, publish (acks=all), stream and pull', async () => {
    await connection.declareExchange(exchange);
    for (let partition = 0; partition < cluster.partitions; partition++) {
      const queue = connection.queue(exchange, nameInPartition(cluster, exchange, partition, 'q'));
      await queue.declare();
      await queue.publish({ partition }, { id: `m-${partition}` });
      const pulled = await queue.pull({ max: 1, waitMs: 5_000 });
      assert.deepEqual(pulled.map((m) => m.payload), [{ partition }], `p${partition}: pulled through the gateway`);
      await pulled[0]!.nack();
      // The gateway relays the stream from the leader over HTTPS.
      for await (const message of queue.consume({ prefetch: 1 })) {
        assert.equal(message.id, `m-${partition}`);
        await message.ack();
        break;
      }
    }
  });

  await t.test('after a leader dies, its followers fetch from the new leader over mutual TLS', async () => {
    const victim = (await cluster.partitionMap()).partitions[0]!.leader!;
    const queue = connection.queue(exchange, nameInPartition(cluster, exchange, 0, 'failover'));
    await queue.declare();
    await queue.publish('before', { id: 'before' });
    await cluster.nodes.get(victim)!.stop('SIGKILL');
    // The SDK retries a publish with an id until the new leader answers (acks=all: its ISR has it).
    await queue.publish('after', { id: 'after' });
    const pulled = await queue.pull({ max: 10, waitMs: 2_000 });
    assert.deepEqual(pulled.map((m) => m.id).sort(), ['after', 'before']);
    await Promise.all(pulled.map((m) => m.ack()));
    await cluster.nodes.get(victim)!.restart();
    await cluster.waitHealthy();
  });

  await t.test('nodes poll the user state from auth over HTTPS: a removed user is refused within seconds', async () => {
    const dataDir = cluster.auth.dataDir;
    await runCli(['users', 'add', 'carol', '--password-stdin', '--data', dataDir], 'carol-password-1\n');
    const token = await login(cluster.gatewayUrl, 'carol', 'carol-password-1', cluster.tls!.dispatcher);
    const node = new Api(cluster.nodes.get('node-1')!.url, token, cluster.tls!.dispatcher);
    await waitFor('node-1 to know carol', async () => (await node.get('/v1/exchanges')).status === 200, { timeoutMs: 15_000, intervalMs: 100 });
    await runCli(['users', 'remove', 'carol', '--data', dataDir]);
    const refused = await waitFor('node-1 to refuse the token of the removed carol', async () => {
      const answer = await node.get('/v1/exchanges');
      return answer.status === 401 ? answer : undefined;
    }, { timeoutMs: 15_000, intervalMs: 100 });
    assert.equal(refused.body.error.reason, 'user_removed');
  });

  await t.test('a forced exchange delete reaches partitions led by other nodes over HTTPS', async () => {
    const api = await cluster.api();
    const response = await api.call('DELETE', `/v1/exchanges/${exchange}?force=true`);
    assert.equal(response.status, 200, response.text);
    const listed = await api.get('/v1/exchanges');
    assert.equal(listed.status, 200);
    assert.ok(!JSON.stringify(listed.body).includes(exchange), `${exchange} is gone: ${listed.text}`);
  });
});
