import { credentials, type ChannelCredentials } from '@grpc/grpc-js';
import type { MutualTls } from '../config/tls-files';
import { ReplicationClient } from '../gen/mom/replication/v1/replication';
import { FetchStream } from './fetch-stream';

const FLOW_CONTROL_WINDOW_BYTES = 32 * 1024 * 1024;

/**
 * gRPC clients to other nodes' replicators, one channel per address, reused by every partition.
 * With `tls` (DESIGN §5, `--grpc-tls-*`) each channel is mutual TLS: it presents this node's
 * certificate and accepts only a replicator whose certificate the CA signed, for the address
 * it dials (the certificate names that host or IP).
 */
export class ReplicationPeers {
  private readonly clients = new Map<string, ReplicationClient>();
  private readonly credentials: ChannelCredentials;

  constructor(
    private readonly clusterSecret: string | undefined,
    tls?: MutualTls,
  ) {
    this.credentials = tls ? credentials.createSsl(tls.ca, tls.key, tls.cert) : credentials.createInsecure();
  }

  /** Opens a FetchStream call to `address` (a follower keeps one per partition it follows). */
  openFetchStream(address: string): FetchStream {
    return new FetchStream(this.client(address), this.clusterSecret, address);
  }

  private client(address: string): ReplicationClient {
    let client = this.clients.get(address);
    if (!client) {
      client = new ReplicationClient(address, this.credentials, {
        'grpc.max_receive_message_length': 256 * 1024 * 1024,
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1_000,
        // HTTP/2's default 64 KiB receive window is smaller than one busy fetch answer: the
        // leader would stop mid-answer until this side's window update came back, a round
        // trip through both event loops on every such fetch. Fetch sizes are bounded
        // (FETCH_ENTRIES), so a window that holds several whole answers costs nothing.
        'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW_BYTES,
      });
      this.clients.set(address, client);
    }
    return client;
  }

  async close(): Promise<void> {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
