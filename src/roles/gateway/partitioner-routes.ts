import { request, type Dispatcher } from 'undici';
import { partitionOf } from '../../core/hash';
import { MomError } from '../../core/errors';
import type { Logger } from '../../runtime/logger';
import type { PartitionsView, RouteSource } from './forwarder';
import type { NodeInfo } from '../../coordination/coordinator';
import type { Route } from '../../coordination/partition-map';

interface PartitionsAnswer {
  partitions: Array<Route & { isr?: string[] }>;
  nodes?: NodeInfo[];
}

const POLL_MS = 1_000;
const REQUEST_TIMEOUT_MS = 3_000;

/**
 * The gateway's copy of the partition map, read from the partitioner's GET /partitions
 * (DESIGN §6): polled in the background, and fetched again at once when a node answers
 * 421 not_leader. The partitioner is not on the data path: a gateway keeps routing with its
 * last map while the partitioner is away.
 */
export class PartitionerRoutes implements RouteSource {
  private routes: Array<Route & { isr?: string[] }> = [];
  private nodes: NodeInfo[] = [];
  private readonly urls: string[];
  /** The partitioner that answered last: asked first next time. */
  private preferred = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private closed = false;

  /**
   * `partitionerUrls`: one URL or several, comma-separated; any partitioner serves the map.
   * `dispatcher`: reaches them (one trusting `--tls-ca` for HTTPS); default undici's global one.
   */
  constructor(
    private readonly partitionerUrls: string,
    private readonly logger: Logger,
    private readonly dispatcher?: Dispatcher,
  ) {
    this.urls = partitionerUrls.split(',');
  }

  async start(): Promise<void> {
    await this.refresh().catch((error: unknown) => this.logger.warn('partitioner not reachable yet; retrying in the background', { urls: this.partitionerUrls, error }));
    this.timer = setInterval(() => {
      this.refresh().catch((error: unknown) => this.logger.debug('partition map refresh failed', { error }));
    }, POLL_MS);
    this.timer.unref();
  }

  route(exchange: string, name: string): Route {
    if (this.routes.length === 0) throw new MomError('unavailable', `no partition map yet from the partitioner at ${this.partitionerUrls}; retry shortly`);
    return this.routes[partitionOf(exchange, name, this.routes.length)]!;
  }

  anyLocation(): string | null {
    return this.routes[0]?.node_location ?? this.routes.find((route) => route.node_location)?.node_location ?? null;
  }

  all(): Route[] {
    return this.routes;
  }

  describe(): PartitionsView | undefined {
    if (this.routes.length === 0) return undefined;
    return { partitions: this.routes.map((route) => ({ ...route, isr: route.isr ?? [] })), nodes: this.nodes };
  }

  /** One fetch at a time; callers arriving meanwhile share it. */
  refresh(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.inFlight ??= this.fetchMap().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Asks the partitioners in turn, starting with the one that answered last. */
  private async fetchMap(): Promise<void> {
    let lastError: unknown;
    for (let i = 0; i < this.urls.length; i++) {
      const index = (this.preferred + i) % this.urls.length;
      try {
        ({ routes: this.routes, nodes: this.nodes } = await fetchRoutes(this.urls[index]!, this.dispatcher));
        this.preferred = index;
        return;
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
  }
}

async function fetchRoutes(partitionerUrl: string, dispatcher: Dispatcher | undefined): Promise<{ routes: PartitionsAnswer['partitions']; nodes: NodeInfo[] }> {
  const response = await request(`${partitionerUrl}/partitions`, { method: 'GET', headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS, ...(dispatcher ? { dispatcher } : {}) });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new MomError('unavailable', `partitioner ${partitionerUrl} answered ${response.statusCode}: ${text.slice(0, 200)}`);
  const answer = JSON.parse(text) as PartitionsAnswer;
  if (!Array.isArray(answer.partitions)) throw new MomError('unavailable', `partitioner ${partitionerUrl} answered without a partitions list`);
  return { routes: [...answer.partitions].sort((a, b) => a.partition - b.partition), nodes: Array.isArray(answer.nodes) ? answer.nodes : [] };
}
