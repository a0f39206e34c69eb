import { request } from 'undici';
import type { Coordinator } from '../../coordination/coordinator';
import { ERROR_CODES, MomError, type ErrorCode } from '../../core/errors';
import type { Principal } from '../../core/permissions';
import { intListParam } from '../../http/query';
import { sendJson } from '../../http/response';
import type { RequestContext } from '../../http/router';
import type { InboxStats } from './engine/partition-engine';
import type { NodeRole } from './node-role';
import type { RequestGuard } from './request-guard';

export interface QueueListing extends InboxStats {
  name: string;
  partition: number;
  leader: string;
}

export interface TopicListing {
  name: string;
  retention_ms: number;
  partition: number;
  leader: string;
  subscriptions: Array<InboxStats & { name: string }>;
}

type Kind = 'queues' | 'topics';

const REMOTE_TIMEOUT_MS = 10_000;

/**
 * `GET /v1/exchanges/{ex}/queues` and `…/topics` (DESIGN §8): every queue (or topic, with its
 * subscriptions) of the exchange with its stats, sorted by name. This node answers for the
 * partitions it leads and asks each other partition's leader for the rest, once per leader
 * (`?partitions=1,4,7`, the same route), as exchange deletion does; a gateway sends the
 * request to any node. With `?partitions=`, only those partitions, all of which this node must
 * lead (421 otherwise). Permissions: like a queue's stats (any grant on the exchange); a
 * per-user subscription of another user is left out, as its stats are refused (DESIGN §7).
 */
export class ListingHandlers {
  constructor(
    private readonly node: NodeRole,
    private readonly coordinator: Coordinator,
    private readonly guard: RequestGuard,
  ) {}

  readonly listQueues = (ctx: RequestContext): Promise<void> => this.list(ctx, 'queues');
  readonly listTopics = (ctx: RequestContext): Promise<void> => this.list(ctx, 'topics');

  private async list(ctx: RequestContext, kind: Kind): Promise<void> {
    const exchange = ctx.params.ex!;
    const principal = await this.guard.authorize(ctx.req, ['consume', 'publish', 'configure'], exchange);
    const only = intListParam(ctx.query, 'partitions', 0, Math.max(0, this.node.partitionTotal - 1));
    let items: Array<QueueListing | TopicListing>;
    if (only !== null) {
      items = await this.local(kind, exchange, only, principal);
    } else {
      if (!(await this.coordinator.getExchange(exchange))) {
        throw new MomError('exchange_not_found', `exchange ${exchange} does not exist; declare it with PUT /v1/exchanges/${exchange}`);
      }
      items = await this.everywhere(kind, exchange, principal, ctx.req.headers.authorization);
    }
    items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.partition - b.partition));
    sendJson(ctx.res, 200, { [kind]: items });
  }

  private async everywhere(kind: Kind, exchange: string, principal: Principal, authorization: string | undefined): Promise<Array<QueueListing | TopicListing>> {
    const led = new Set(this.node.allEngines().map((engine) => engine.partition));
    const mine: number[] = [];
    const elsewhere = new Map<string, number[]>();
    for (let partition = 0; partition < this.node.partitionTotal; partition++) {
      if (led.has(partition)) {
        mine.push(partition);
        continue;
      }
      const { node_location: location } = this.node.leaderOf(partition);
      if (!location) throw new MomError('unavailable', `partition ${partition} has no leader right now (a failover is in progress); retry shortly`);
      elsewhere.set(location, [...(elsewhere.get(location) ?? []), partition]);
    }
    const parts = await Promise.all([
      this.local(kind, exchange, mine, principal),
      ...[...elsewhere].map(([location, partitions]) => this.remote(kind, location, exchange, partitions, authorization)),
    ]);
    return parts.flat();
  }

  /** The listing of partitions this node leads (421 for one it does not). */
  private async local(kind: Kind, exchange: string, partitions: number[], principal: Principal): Promise<Array<QueueListing | TopicListing>> {
    const leader = this.node.nodeId;
    const items: Array<QueueListing | TopicListing> = [];
    for (const partition of partitions) {
      const engine = this.node.engineAt(partition);
      const { topics, inboxes } = this.node.store.catalog.ofExchange(partition, exchange);
      if (kind === 'queues') {
        for (const inbox of inboxes) {
          if (inbox.kind === 'queue') items.push({ name: inbox.name, ...engine.stats(inbox.key), partition, leader });
        }
        continue;
      }
      for (const topic of topics) {
        const subscriptions: TopicListing['subscriptions'] = [];
        for (const inbox of inboxes) {
          if (inbox.topicId !== topic.id || !(await this.maySee(principal, inbox.name))) continue;
          subscriptions.push({ name: inbox.name, ...engine.stats(inbox.key) });
        }
        subscriptions.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        items.push({ name: topic.name, retention_ms: topic.options.retention_ms, partition, leader, subscriptions });
      }
    }
    return items;
  }

  private async maySee(principal: Principal, subscription: string): Promise<boolean> {
    try {
      await this.guard.authorizeSubscription(principal, subscription);
      return true;
    } catch (error) {
      if (error instanceof MomError && error.code === 'forbidden') return false;
      throw error;
    }
  }

  /** Asks the leader at `location` for its part, with the caller's token. */
  private async remote(kind: Kind, location: string, exchange: string, partitions: number[], authorization: string | undefined): Promise<Array<QueueListing | TopicListing>> {
    const url = `${location}/v1/exchanges/${encodeURIComponent(exchange)}/${kind}?partitions=${partitions.join(',')}`;
    let status: number;
    let text: string;
    try {
      const response = await request(url, {
        method: 'GET',
        headers: authorization ? { authorization } : {},
        headersTimeout: REMOTE_TIMEOUT_MS,
        bodyTimeout: REMOTE_TIMEOUT_MS,
        // Trusts the cluster's CA when the nodes serve HTTPS (--tls-ca).
        ...(this.node.peerHttp ? { dispatcher: this.node.peerHttp } : {}),
      });
      status = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      throw new MomError('unavailable', `could not ask ${location} for the ${kind} of exchange ${exchange}: ${(error as Error).message}; retry shortly`, { cause: error });
    }
    const body = parseJson(text);
    if (status === 200 && Array.isArray(body?.[kind])) return body[kind] as Array<QueueListing | TopicListing>;
    const code = body?.error?.code;
    // A leadership that moved (421) or a node in trouble: the caller may retry; a refusal stands.
    if (status < 500 && status !== 421 && typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code)) {
      throw new MomError(code as ErrorCode, String(body?.error?.message ?? code));
    }
    throw new MomError('unavailable', `${location} answered ${status} for the ${kind} of partitions ${partitions.join(',')} (${text.slice(0, 200)}); retry shortly`);
  }
}

interface RemoteAnswer {
  queues?: unknown;
  topics?: unknown;
  error?: { code?: unknown; message?: unknown };
  [key: string]: unknown;
}

function parseJson(text: string): RemoteAnswer | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as RemoteAnswer) : undefined;
  } catch {
    return undefined;
  }
}
