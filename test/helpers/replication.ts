/**
 * Raw calls to a node's replicator (DESIGN §5) with the generated gRPC client, for tests that
 * look at replication from outside: one Fetch answered as a result (`rawFetch`), one Fetch that
 * fails as a follower's would (`fetchOnce`), and the whole log of a partition on its leader.
 */
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { ReplicationClient, type FetchRequest, type FetchResponse } from '../../src/gen/mom/replication/v1/replication';
import { fromServiceError } from '../../src/replication/grpc-errors';
import { CLUSTER_SECRET_HEADER } from '../../src/replication/replication-server';
import type { Cluster } from './cluster';

export type RawFetchResult = { ok: true; response: FetchResponse } | { ok: false; error: ServiceError; momCode: string | undefined };

/**
 * One Fetch to a replicator at `address`, on a channel of its own, answering the gRPC status
 * instead of throwing: `secret` undefined sends no cluster secret at all. Unset request fields
 * are zero, `maxEntries` 5,000.
 */
export async function rawFetch(address: string, request: Partial<FetchRequest> & { partition: number }, secret: string | undefined, deadlineMs = 5_000): Promise<RawFetchResult> {
  const client = new ReplicationClient(address, credentials.createInsecure());
  const metadata = new Metadata();
  if (secret !== undefined) metadata.set(CLUSTER_SECRET_HEADER, secret);
  const full: FetchRequest = { followerId: '', leaderEpoch: 0, fetchOffset: 0, lastFetchedEpoch: 0, maxWaitMs: 0, maxEntries: 5_000, ...request };
  try {
    return await new Promise<RawFetchResult>((resolve) => {
      client.fetch(full, metadata, { deadline: Date.now() + deadlineMs }, (error: ServiceError | null, response: FetchResponse) => {
        if (error) {
          const code = error.metadata?.get('mom-error-code')[0];
          resolve({ ok: false, error, momCode: typeof code === 'string' ? code : undefined });
        } else {
          resolve({ ok: true, response });
        }
      });
    });
  } finally {
    client.close();
  }
}

/**
 * One Fetch as a follower would see it: the response, or a rejection with the MomError the
 * broker's replication client makes of the gRPC status (its `code` is the leader's error code).
 */
export async function fetchOnce(address: string, request: FetchRequest, secret: string | undefined, deadlineMs = 5_000): Promise<FetchResponse> {
  const result = await rawFetch(address, request, secret, deadlineMs);
  if (!result.ok) throw fromServiceError(result.error, address);
  return result.response;
}

/** Every entry of a partition's log on its leader `nodeId` (fetched as follower `asFollower` from offset 0). */
export async function leaderLogEntries(cluster: Cluster, nodeId: string, partition: number, asFollower: string): Promise<FetchResponse['entries']> {
  const info = await cluster.partitionInfo(partition);
  const result = await rawFetch(cluster.nodes.get(nodeId)!.grpc!, { partition, followerId: asFollower, leaderEpoch: info.leader_epoch, fetchOffset: 0, maxEntries: 5_000 }, cluster.clusterSecret);
  if (!result.ok) throw new Error(`Fetch from ${nodeId} (p${partition}, epoch ${info.leader_epoch}) failed: ${result.error.code} ${result.error.details}`);
  return result.response.entries;
}
