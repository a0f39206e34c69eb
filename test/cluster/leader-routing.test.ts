/**
 * The SDK's leader-direct routing (`routing: 'leader'`) against a real 3-node cluster:
 * publishes and the stream go straight to the queue's leader, and after kill -9 of that
 * leader the same connection goes on (through the gateway, then to the new leader) with
 * nothing acknowledged lost.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect } from '../../src/client';
import { uniqueName } from '../helpers/http-api';
import { startCluster } from '../helpers/cluster';
import { waitFor } from '../helpers/wait';

test('routing leader: straight to the partition leader, and on through a failover', { timeout: 240_000 }, async (t) => {
  const cluster = await startCluster(t, { nodes: 3, partitions: 4, sessionTimeoutMs: 4_000 });
  const exchange = uniqueName('direct');
  const connection = await connect({ url: cluster.gatewayUrl, user: 'admin', password: cluster.adminPassword, routing: 'leader', retryDeadlineMs: 30_000 });
  t.after(() => connection.close());
  await connection.declareExchange(exchange);
  const queue = connection.queue(exchange, 'work');
  await queue.declare();

  const received = new Set<string>();
  const stop = new AbortController();
  const consuming = (async () => {
    for await (const message of queue.consume({ prefetch: 50, signal: stop.signal })) {
      received.add(message.id);
      void message.ack().catch(() => {});
    }
  })();

  const acknowledged: string[] = [];
  const publish = async (from: number, to: number) => {
    for (let i = from; i < to; i++) acknowledged.push(await queue.publish({ i }, { id: `m-${i}` }));
  };
  await publish(0, 100);
  await waitFor('the first 100 to be consumed', () => acknowledged.every((id) => received.has(id)), { timeoutMs: 30_000 });
  const before = connection.stats();
  await publish(100, 150);
  const direct = connection.stats().direct - before.direct;
  assert.ok(direct >= 50, `the publishes went straight to the leader (${direct} direct requests of ${connection.stats().requests - before.requests})`);

  const leader = (await cluster.partitionInfo(cluster.partitionOf(exchange, 'work'))).leader!;
  await cluster.nodes.get(leader)!.stop('SIGKILL');
  await publish(150, 300);
  await waitFor('every acknowledged message to be consumed', () => acknowledged.every((id) => received.has(id)), { timeoutMs: 60_000 });
  const after = (await cluster.partitionInfo(cluster.partitionOf(exchange, 'work'))).leader;
  assert.notEqual(after, leader, 'the partition moved');
  const directAfter = connection.stats().direct;
  await publish(300, 310);
  assert.ok(connection.stats().direct - directAfter >= 10, 'and the new leader is reached directly');
  await waitFor('the last ones to be consumed', () => acknowledged.every((id) => received.has(id)), { timeoutMs: 30_000 });
  stop.abort();
  await consuming;
  assert.deepEqual(acknowledged.filter((id) => !received.has(id)), [], 'nothing acknowledged lost');
});
