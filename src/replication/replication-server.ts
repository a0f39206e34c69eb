import { Server, ServerCredentials, type Metadata, type ServerDuplexStream, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { MutualTls } from '../config/tls-files';
import { MomError } from '../core/errors';
import type { FetchRequest } from '../gen/mom/replication/v1/replication';
import type { Logger } from '../runtime/logger';
import { EncodedEntriesCache, ReplicationServiceWithEncodedAnswers, type FetchAnswer } from './fetch-answer';
import { toServiceError } from './grpc-errors';
import type { FetchSource } from './fetch-source';

export const CLUSTER_SECRET_HEADER = 'x-mom-cluster-secret';

export interface ReplicationServerOptions {
  host: string;
  port: number;
  /** Inter-node calls must carry it (DESIGN §5); without one configured, calls are not checked. */
  clusterSecret: string | undefined;
  logger: Logger;
  /** The log of a partition this node leads, to serve its followers' fetches from. */
  leaderLog: (partition: number) => FetchSource | undefined;
  /**
   * Mutual TLS (DESIGN §5, `--grpc-tls-*`): serve with this certificate and accept only
   * followers that present one the CA signed. The cluster secret is checked as well.
   */
  tls?: MutualTls;
}

const MAX_WAIT_CAP_MS = 5_000;
const MAX_ENTRIES_CAP = 5_000;

/** The replicator role: serves Fetch and FetchStream for the partitions this node leads. */
export class ReplicationServer {
  private readonly server = new Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.max_send_message_length': 256 * 1024 * 1024 });
  private readonly secretDigest: Buffer | undefined;
  private boundPort = 0;
  private closed = false;
  /** Open fetch streams: ended at close, since a graceful shutdown waits for every call to end. */
  private readonly streams = new Set<ServerDuplexStream<FetchRequest, FetchAnswer>>();
  private readonly encodedEntries = new EncodedEntriesCache();

  constructor(private readonly options: ReplicationServerOptions) {
    this.secretDigest = options.clusterSecret ? digest(options.clusterSecret) : undefined;
    this.server.addService(ReplicationServiceWithEncodedAnswers, {
      fetch: (call: ServerUnaryCall<FetchRequest, FetchAnswer>, callback: sendUnaryData<FetchAnswer>) => this.fetch(call, callback),
      fetchStream: (call: ServerDuplexStream<FetchRequest, FetchAnswer>) => this.fetchStream(call),
    });
  }

  async start(): Promise<void> {
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(`${this.options.host}:${this.options.port}`, serverCredentials(this.options.tls), (error, port) => (error ? reject(error) : resolve(port)));
    });
  }

  address(): string {
    return `${this.options.host}:${this.boundPort}`;
  }

  private fetch(call: ServerUnaryCall<FetchRequest, FetchAnswer>, callback: sendUnaryData<FetchAnswer>): void {
    if (!this.authorized(call.metadata)) {
      callback(toServiceError(wrongSecret()));
      return;
    }
    this.answer(call.request).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toServiceError(error)),
    );
  }

  /**
   * One request at a time per stream, answered in order: a follower sends its next request
   * only after it has written what the last answer carried, so that request is its progress.
   */
  private fetchStream(call: ServerDuplexStream<FetchRequest, FetchAnswer>): void {
    if (this.closed) {
      call.emit('error', toServiceError(new MomError('unavailable', 'this replicator is shutting down')));
      return;
    }
    if (!this.authorized(call.metadata)) {
      call.emit('error', toServiceError(wrongSecret()));
      return;
    }
    this.streams.add(call);
    let ended = false;
    let queue = Promise.resolve();
    const forget = (): void => {
      ended = true;
      this.streams.delete(call);
    };
    const finish = (error?: unknown): void => {
      if (ended) return;
      forget();
      if (error === undefined) call.end();
      else call.emit('error', toServiceError(error));
    };
    call.on('data', (request: FetchRequest) => {
      queue = queue.then(async () => {
        if (ended) return;
        try {
          const response = await this.answer(request);
          if (!ended) call.write(response);
        } catch (error) {
          finish(error);
        }
      });
    });
    call.on('end', () => void queue.then(() => finish()));
    call.on('cancelled', forget);
    call.on('error', forget);
  }

  private async answer(request: FetchRequest): Promise<FetchAnswer> {
    const log = this.options.leaderLog(request.partition);
    if (!log) throw new MomError('not_leader', `this node does not lead partition ${request.partition}`);
    const result = await log.handleFetch({
      followerId: request.followerId,
      leaderEpoch: request.leaderEpoch,
      fetchOffset: request.fetchOffset,
      lastFetchedEpoch: request.lastFetchedEpoch,
      maxWaitMs: Math.min(request.maxWaitMs, MAX_WAIT_CAP_MS),
      maxEntries: Math.max(1, Math.min(request.maxEntries || 1000, MAX_ENTRIES_CAP)),
    });
    return {
      head: { leaderEpoch: log.epoch, highWatermark: result.highWatermark, logStart: 0, diverging: result.diverging, compactBelow: result.compactBelow },
      entries: this.encodedEntries.get(log, request.partition, result.entries),
    };
  }

  private authorized(metadata: Metadata): boolean {
    if (!this.secretDigest) return true;
    const given = metadata.get(CLUSTER_SECRET_HEADER)[0];
    if (typeof given !== 'string') return false;
    return timingSafeEqual(digest(given), this.secretDigest);
  }

  /** Stops accepting and ends open fetches (followers retry elsewhere). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stream of [...this.streams]) {
      this.streams.delete(stream);
      stream.emit('error', toServiceError(new MomError('unavailable', 'this replicator is shutting down')));
    }
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 1_000);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }
}

/** With mutual TLS, a client that presents no certificate, or one the CA did not sign, fails its handshake. */
function serverCredentials(tls: MutualTls | undefined): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  const checkClientCertificate = true;
  return ServerCredentials.createSsl(tls.ca, [{ cert_chain: tls.cert, private_key: tls.key }], checkClientCertificate);
}

function wrongSecret(): MomError {
  return new MomError('unauthorized', 'missing or wrong cluster secret: every node of a cluster needs the same --cluster-secret');
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
