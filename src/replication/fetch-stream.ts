import { Metadata, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { MomError } from '../core/errors';
import type { FetchRequest, FetchResponse, ReplicationClient } from '../gen/mom/replication/v1/replication';
import { fromServiceError } from './grpc-errors';
import { CLUSTER_SECRET_HEADER } from './replication-server';

interface Pending {
  resolve: (response: FetchResponse) => void;
  reject: (error: MomError) => void;
  timer: NodeJS.Timeout;
}

/**
 * A follower's side of one FetchStream call: one request out, one answer back, in turn.
 * Once the call fails, times out or is closed, every later fetch fails too: the owner opens
 * a new stream (the leader may have moved, or come back).
 */
export class FetchStream {
  private readonly call: ClientDuplexStream<FetchRequest, FetchResponse>;
  private pending: Pending | undefined;
  private failure: MomError | undefined;

  constructor(client: ReplicationClient, clusterSecret: string | undefined, private readonly peer: string) {
    const metadata = new Metadata();
    if (clusterSecret) metadata.set(CLUSTER_SECRET_HEADER, clusterSecret);
    this.call = client.fetchStream(metadata);
    this.call.on('data', (response: FetchResponse) => {
      const pending = this.pending;
      if (!pending) {
        this.fail(new MomError('internal', `replication stream from ${peer} sent an answer nobody asked for`));
        return;
      }
      this.pending = undefined;
      clearTimeout(pending.timer);
      pending.resolve(response);
    });
    this.call.on('error', (error: ServiceError) => this.fail(fromServiceError(error, peer)));
    // The leader ends a stream only by failing it; a plain end (it shut down) is as good as one.
    this.call.on('end', () => this.fail(new MomError('unavailable', `replication stream from ${peer} ended`)));
  }

  /** Whether this stream can still carry fetches. */
  get usable(): boolean {
    return this.failure === undefined;
  }

  /** Sends one request and resolves its answer; rejects if none comes within `timeoutMs`. */
  fetch(request: FetchRequest, timeoutMs: number): Promise<FetchResponse> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending) return Promise.reject(new MomError('internal', 'a fetch is already in flight on this replication stream'));
    return new Promise<FetchResponse>((resolve, reject) => {
      const timer = setTimeout(
        () => this.fail(new MomError('unavailable', `replication stream from ${this.peer}: no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.pending = { resolve, reject, timer };
      this.call.write(request);
    });
  }

  /** Ends the call; a fetch in flight rejects at once. Idempotent. */
  async close(): Promise<void> {
    this.fail(new MomError('unavailable', 'replication stream closed'));
  }

  private fail(error: MomError): void {
    if (this.failure) return;
    this.failure = error;
    const pending = this.pending;
    this.pending = undefined;
    if (pending) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.call.cancel();
  }
}
