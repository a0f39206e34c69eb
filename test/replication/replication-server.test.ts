/**
 * Mutual TLS between replicators (DESIGN §5, §7; issue 11 §4): with `--grpc-tls-*` a
 * replicator serves TLS and accepts only followers that present a certificate its CA signed;
 * a follower accepts only a replicator its CA signed. A peer another CA signed, or one without
 * a certificate, is refused at the handshake: its fetch never reaches the log. The cluster
 * secret is checked as well. Errors are matched by code and gRPC status, never by text.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import type { MutualTls } from '../../src/config/tls-files';
import { MomError } from '../../src/core/errors';
import { ReplicationClient, type FetchRequest, type FetchResponse } from '../../src/gen/mom/replication/v1/replication';
import type { FetchSource } from '../../src/replication/fetch-source';
import { ReplicationPeers } from '../../src/replication/replication-client';
import { CLUSTER_SECRET_HEADER, ReplicationServer } from '../../src/replication/replication-server';
import { silentLogger } from '../../src/runtime/logger';
import { createCa, issueCertificate, type TestCa } from '../helpers/tls';

const SECRET = 'the-cluster-secret';
const REQUEST: FetchRequest = { partition: 0, followerId: 'node-2', leaderEpoch: 3, fetchOffset: 0, lastFetchedEpoch: 0, maxWaitMs: 0, maxEntries: 10 };
/** Long enough for a handshake on a busy machine; a refusal comes well before it. */
const FETCH_TIMEOUT_MS = 10_000;

function mutualTls(ca: TestCa, name: string): MutualTls {
  const { cert, key } = issueCertificate(ca, name);
  return { cert, key, ca: ca.pem };
}

/** A replicator leading partition 0 (an empty log at epoch 3) that counts the fetches reaching it. */
async function leader(t: TestContext, tls: MutualTls | undefined): Promise<{ server: ReplicationServer; fetches: () => number }> {
  let fetches = 0;
  const log: FetchSource = {
    epoch: 3,
    handleFetch: async () => {
      fetches++;
      return { entries: [], highWatermark: 0, compactBelow: 0 };
    },
  };
  const server = new ReplicationServer({ host: '127.0.0.1', port: 0, clusterSecret: SECRET, logger: silentLogger, leaderLog: (p) => (p === 0 ? log : undefined), ...(tls ? { tls } : {}) });
  await server.start();
  t.after(() => server.close());
  return { server, fetches: () => fetches };
}

function follower(t: TestContext, secret: string, tls: MutualTls | undefined): ReplicationPeers {
  const peers = new ReplicationPeers(secret, tls);
  t.after(() => peers.close());
  return peers;
}

/** Asserts a refused fetch: the MomError's code and the gRPC status under it. */
async function assertRefused(fetch: Promise<FetchResponse>, code: MomError['code'], grpcStatus: status): Promise<void> {
  await assert.rejects(fetch, (error: unknown) => {
    assert.ok(error instanceof MomError, `a MomError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal((error.cause as ServiceError).code, grpcStatus);
    return true;
  });
}

test('followers with a certificate the CA signed fetch over mutual TLS, with the cluster secret', async (t) => {
  const ca = createCa(t);
  const { server, fetches } = await leader(t, mutualTls(ca, 'node-1'));
  const peers = follower(t, SECRET, mutualTls(ca, 'node-2'));
  const answer = await peers.openFetchStream(server.address()).fetch(REQUEST, FETCH_TIMEOUT_MS);
  assert.equal(answer.leaderEpoch, 3);
  assert.equal(fetches(), 1);
});

test('a follower whose certificate another CA signed is refused at the handshake', async (t) => {
  const ca = createCa(t);
  const other = createCa(t, 'another CA');
  const { server, fetches } = await leader(t, mutualTls(ca, 'node-1'));
  // It trusts the replicator's CA, and has the secret: only its own certificate is wrong.
  const { cert, key } = issueCertificate(other, 'intruder');
  const intruder = follower(t, SECRET, { cert, key, ca: ca.pem });
  await assertRefused(intruder.openFetchStream(server.address()).fetch(REQUEST, FETCH_TIMEOUT_MS), 'unavailable', status.UNAVAILABLE);
  assert.equal(fetches(), 0, 'nothing reached the log');
  // The same replicator still serves a follower of its own CA.
  const member = follower(t, SECRET, mutualTls(ca, 'node-2'));
  await member.openFetchStream(server.address()).fetch(REQUEST, FETCH_TIMEOUT_MS);
  assert.equal(fetches(), 1);
});

test('a follower without a certificate is refused, over TLS or plaintext', async (t) => {
  const ca = createCa(t);
  const { server, fetches } = await leader(t, mutualTls(ca, 'node-1'));
  const plaintext = follower(t, SECRET, undefined);
  await assertRefused(plaintext.openFetchStream(server.address()).fetch(REQUEST, FETCH_TIMEOUT_MS), 'unavailable', status.UNAVAILABLE);
  // TLS that checks the replicator but presents nothing of its own.
  const client = new ReplicationClient(server.address(), credentials.createSsl(ca.pem));
  t.after(() => client.close());
  const metadata = new Metadata();
  metadata.set(CLUSTER_SECRET_HEADER, SECRET);
  const error = await new Promise<ServiceError | null>((resolve) => {
    client.fetch(REQUEST, metadata, { deadline: Date.now() + FETCH_TIMEOUT_MS }, (failure) => resolve(failure));
  });
  assert.equal(error?.code, status.UNAVAILABLE);
  assert.equal(fetches(), 0);
});

test('a follower refuses a replicator whose certificate another CA signed', async (t) => {
  const ca = createCa(t);
  const other = createCa(t, 'another CA');
  const { server, fetches } = await leader(t, mutualTls(other, 'impostor'));
  const peers = follower(t, SECRET, mutualTls(ca, 'node-2'));
  await assertRefused(peers.openFetchStream(server.address()).fetch(REQUEST, FETCH_TIMEOUT_MS), 'unavailable', status.UNAVAILABLE);
  assert.equal(fetches(), 0);
});

test('with mutual TLS the cluster secret is still required', async (t) => {
  const ca = createCa(t);
  const { server, fetches } = await leader(t, mutualTls(ca, 'node-1'));
  const peers = follower(t, 'a-wrong-secret', mutualTls(ca, 'node-2'));
  await assertRefused(peers.openFetchStream(server.address()).fetch(REQUEST, FETCH_TIMEOUT_MS), 'unauthorized', status.UNAUTHENTICATED);
  assert.equal(fetches(), 0);
});
