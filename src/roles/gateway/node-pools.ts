import { Pool } from 'undici';

export interface NodePoolsOptions {
  /** Keep-alive connections per node for ordinary requests. */
  connectionsPerNode: number;
  connectTimeoutMs: number;
  /** Default wait for a head, and for each body chunk of an ordinary answer. */
  responseTimeoutMs: number;
  /** Nodes serving HTTPS are trusted when this CA signed them (`--tls-ca`); default the system's CAs. */
  ca?: Buffer;
}

/** A node sends a stream keepalive at least every 15 s (DESIGN §8): twice that is a dead stream. */
const STREAM_SILENCE_MS = 35_000;

/**
 * The gateway's undici pools, one per node: a bounded one for requests, and one without a
 * bound for streams, which hold their connection for as long as they live and must never
 * starve other requests.
 */
export class NodePools {
  private readonly requests = new Map<string, Pool>();
  private readonly streams = new Map<string, Pool>();

  constructor(private readonly options: NodePoolsOptions) {}

  forRequests(origin: string): Pool {
    let pool = this.requests.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.options.connectionsPerNode,
        connect: this.connectOptions(),
        headersTimeout: this.options.responseTimeoutMs,
        bodyTimeout: this.options.responseTimeoutMs,
      });
      this.requests.set(origin, pool);
    }
    return pool;
  }

  forStreams(origin: string): Pool {
    let pool = this.streams.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: null,
        connect: this.connectOptions(),
        headersTimeout: this.options.responseTimeoutMs,
        bodyTimeout: STREAM_SILENCE_MS,
      });
      this.streams.set(origin, pool);
    }
    return pool;
  }

  private connectOptions(): { timeout: number; ca?: Buffer } {
    return { timeout: this.options.connectTimeoutMs, ...(this.options.ca ? { ca: this.options.ca } : {}) };
  }

  /** Ends streams at once, lets requests in flight finish, then closes. Idempotent. */
  async close(): Promise<void> {
    const streams = [...this.streams.values()];
    this.streams.clear();
    await Promise.all(streams.map((pool) => pool.destroy().catch(() => {})));
    const requests = [...this.requests.values()];
    this.requests.clear();
    await Promise.all(requests.map((pool) => pool.close().catch(() => {})));
  }
}
