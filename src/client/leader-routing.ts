/**
 * Leader-direct routing (`connect({ routing: 'leader' })`), as Kafka clients route by
 * metadata: requests on one queue, topic or subscription go straight to the node that leads
 * its partition, found in the gateway's public partition map (`GET /partitions`) with the
 * documented hash, instead of through the gateway (one HTTP hop less each way). Nodes verify
 * tokens themselves, so the gateway's token is good there. Anything else (logins, lists,
 * exchanges), requests while the map is not known yet, and any request a node could not take
 * (unreachable, 421 not the leader, 503) go through the gateway, which then still routes
 * them; a failure also makes the map be asked for again.
 */
import { HttpTransport, type HttpTransportOptions } from './http-transport';

/** The map is asked for again after this long, and at once after a failed direct request. */
const MAP_MAX_AGE_MS = 30_000;
const LEADERLESS_RETRY_MS = 1_000;

interface PartitionLeaders {
  count: number;
  /** node_location of each partition's leader; null: none now. */
  leaders: Array<string | null>;
}

/**
 * FNV-1a 32-bit of `exchange/name` mod the partition count: the partition of a queue or topic
 * (README "Partitioning"; the server's src/core/hash.ts computes the same, and the SDK imports
 * no server code).
 */
export function partitionOfName(exchange: string, name: string, partitionCount: number): number {
  const bytes = Buffer.from(`${exchange}/${name}`, 'utf8');
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i]!;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return (hash >>> 0) % partitionCount;
}

/** The exchange and queue or topic name a request path acts on, or undefined (not one partition's). */
export function partitionKeyOf(path: string): { exchange: string; name: string } | undefined {
  const segments = path.split('?', 1)[0]!.split('/');
  // ['', 'v1', 'exchanges', ex, 'queues' | 'topics', name, ...]
  if (segments.length < 6 || segments[1] !== 'v1' || segments[2] !== 'exchanges') return undefined;
  if (segments[4] !== 'queues' && segments[4] !== 'topics') return undefined;
  try {
    return { exchange: decodeURIComponent(segments[3]!), name: decodeURIComponent(segments[5]!) };
  } catch {
    return undefined;
  }
}

export class LeaderRouter {
  private leaders: PartitionLeaders | undefined;
  private fetchedAt = 0;
  private refreshing: Promise<void> | undefined;
  private readonly nodes = new Map<string, HttpTransport>();
  private closed = false;

  constructor(
    private readonly gateway: HttpTransport,
    private readonly transportOptions: HttpTransportOptions,
  ) {}

  /** The transport of the leader of this path's partition; undefined: through the gateway. */
  transportFor(path: string): HttpTransport | undefined {
    if (this.closed) return undefined;
    if (this.leaders === undefined || Date.now() - this.fetchedAt > MAP_MAX_AGE_MS) this.refresh();
    const key = partitionKeyOf(path);
    if (key === undefined || this.leaders === undefined || this.leaders.count === 0) return undefined;
    const location = this.leaders.leaders[partitionOfName(key.exchange, key.name, this.leaders.count)];
    if (!location) {
      // No leader in this copy (an election was under way): ask again, at most once a second.
      if (Date.now() - this.fetchedAt > LEADERLESS_RETRY_MS) this.refresh();
      return undefined;
    }
    let transport = this.nodes.get(location);
    if (transport === undefined) {
      try {
        transport = new HttpTransport(new URL(location), this.transportOptions);
      } catch {
        return undefined;
      }
      this.nodes.set(location, transport);
    }
    return transport;
  }

  /** A direct request failed: the map may be old. Until it is read again, the gateway serves. */
  invalidate(): void {
    this.leaders = undefined;
    this.refresh();
  }

  private refresh(): void {
    if (this.refreshing || this.closed) return;
    this.refreshing = this.readMap()
      .catch(() => {
        // The gateway serves everything meanwhile; the next request asks again.
      })
      .finally(() => {
        this.refreshing = undefined;
      });
  }

  private async readMap(): Promise<void> {
    const response = await this.gateway.request({ method: 'GET', path: '/partitions', headers: { accept: 'application/json' }, timeoutMs: 5_000 });
    this.fetchedAt = Date.now();
    if (response.status !== 200) return;
    const body = JSON.parse(response.text) as { partitions?: Array<{ partition?: unknown; node_location?: unknown }> };
    if (!Array.isArray(body.partitions)) return;
    const leaders: Array<string | null> = Array.from({ length: body.partitions.length }, () => null);
    for (const route of body.partitions) {
      if (typeof route.partition !== 'number' || route.partition < 0 || route.partition >= leaders.length) return;
      leaders[route.partition] = typeof route.node_location === 'string' ? route.node_location : null;
    }
    this.leaders = { count: leaders.length, leaders };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.refreshing;
    await Promise.all([...this.nodes.values()].map((transport) => transport.close()));
    this.nodes.clear();
  }
}
