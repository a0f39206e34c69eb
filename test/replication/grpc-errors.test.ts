/**
 * Errors leave the replicator through one total table (issue 10 §4): the other side gets the
 * MomError's code back, matched by code and gRPC status, never by message text. A follower
 * with a wrong cluster secret says so at error level, once a minute, not at debug forever.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { status, type ServiceError } from '@grpc/grpc-js';
import { ERROR_CODES, MomError } from '../../src/core/errors';
import { PartitionFollower } from '../../src/log/partition-follower';
import { fromServiceError, GRPC_STATUS_BY_CODE, toServiceError } from '../../src/replication/grpc-errors';
import { ReplicationPeers } from '../../src/replication/replication-client';
import { ReplicationServer } from '../../src/replication/replication-server';
import { Logger, silentLogger } from '../../src/runtime/logger';
import { NodeStore } from '../../src/store/node-store';
import { waitFor } from '../helpers/wait';

test('every error code has a gRPC status, and the code survives the trip', () => {
  for (const code of ERROR_CODES) {
    assert.equal(typeof GRPC_STATUS_BY_CODE[code], 'number', code);
    const sent = toServiceError(new MomError(code, `a ${code}`));
    const received = fromServiceError({ ...sent, message: sent.details } as ServiceError, 'peer');
    assert.equal(received.code, code);
  }
  assert.equal(GRPC_STATUS_BY_CODE.unauthorized, status.UNAUTHENTICATED);
  const foreign = fromServiceError({ code: status.UNAUTHENTICATED, details: 'no', message: 'no' } as ServiceError, 'peer');
  assert.equal(foreign.code, 'unauthorized', 'a status without our trailer maps to the closest code');
});

async function replicator(t: TestContext, secret: string): Promise<ReplicationServer> {
  const server = new ReplicationServer({ host: '127.0.0.1', port: 0, clusterSecret: secret, logger: silentLogger, leaderLog: () => undefined });
  await server.start();
  t.after(() => server.close());
  return server;
}

test('a wrong cluster secret is refused as unauthorized (UNAUTHENTICATED)', async (t) => {
  const server = await replicator(t, 'right');
  const peers = new ReplicationPeers('wrong');
  t.after(() => peers.close());
  const request = { partition: 0, followerId: 'b', leaderEpoch: 1, fetchOffset: 0, lastFetchedEpoch: 0, maxWaitMs: 0, maxEntries: 10 };
  await assert.rejects(peers.openFetchStream(server.address()).fetch(request, 5_000), (error: MomError) => {
    assert.equal(error.code, 'unauthorized');
    assert.equal((error.cause as ServiceError).code, status.UNAUTHENTICATED);
    return true;
  });
});

test('a follower with a wrong secret logs it at error level once, not on every retry', async (t) => {
  const server = await replicator(t, 'right');
  const dir = mkdtempSync(join(tmpdir(), 'mom-grpc-'));
  const store = NodeStore.open(dir, 'batch');
  const peers = new ReplicationPeers('wrong');
  const lines: Array<{ level: string; msg: string; error?: { code?: string } }> = [];
  const logger = new Logger('debug', {}, { write: (line) => lines.push(JSON.parse(line)) });
  const follower = new PartitionFollower({ store, peers, partition: 0, nodeId: 'b', leaderId: 'a', leaderAddress: server.address(), leaderEpoch: 1, logger });
  t.after(async () => {
    await follower.close();
    peers.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await follower.start();
  const failures = () => lines.filter((line) => line.msg === 'fetch from leader failed; retrying');
  await waitFor('the follower to retry a few times', () => failures().length >= 4, { timeoutMs: 20_000 });
  const errors = failures().filter((line) => line.level === 'error');
  assert.equal(errors.length, 1, `one error line, then quiet: ${JSON.stringify(failures().map((l) => l.level))}`);
  assert.equal(errors[0]!.error?.code, 'unauthorized');
});
