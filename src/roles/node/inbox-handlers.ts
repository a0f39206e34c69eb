import { queueInboxKey, subscriptionInboxKey, type TargetKind } from '../../core/entries';
import { MomError } from '../../core/errors';
import { assertValidName } from '../../core/names';
import { parsePublishBody, parseSettleBody } from '../../core/requests';
import { readJsonBody } from '../../http/body';
import { enumParam, intParam } from '../../http/query';
import { EventStreamResponse } from '../../http/event-stream';
import { sendJson, sendRawJson } from '../../http/response';
import type { RequestContext } from '../../http/router';
import type { Principal } from '../../core/permissions';
import type { HistogramSeries, Metrics } from '../../runtime/metrics';
import { countDeliveries, type MessageCounts } from './inbox-metrics';
import type { NodeRole } from './node-role';
import type { PerUserSlots } from './per-user-slots';
import type { RequestGuard } from './request-guard';
import { deadLettersJson, messageJson, messagesJson } from './message-json';

/** Pull bounds and defaults (DESIGN §8 "Details"). */
const PULL_LIMITS = {
  max: { fallback: 1, min: 1, max: 1000 },
  waitMs: { fallback: 0, min: 0, max: 30_000 },
  leaseMs: { fallback: 30_000, min: 100, max: 43_200_000 },
};

/** Stream bounds and defaults (DESIGN §8 streams). */
const STREAM_LIMITS = {
  prefetch: { fallback: 100, min: 1, max: 1000 },
};

/** Where an inbox operation points: a queue, or a topic's subscription. */
export interface InboxAddress {
  exchange: string;
  /** The queue or topic name: it decides the partition. */
  routingName: string;
  key: string;
  /** The subscription's name, for a subscription. */
  subscription?: string;
}

export function inboxAddress(ctx: RequestContext): InboxAddress {
  const exchange = assertValidName('exchange', ctx.params.ex!);
  if (ctx.params.q !== undefined) {
    const queue = assertValidName('queue', ctx.params.q);
    return { exchange, routingName: queue, key: queueInboxKey(exchange, queue) };
  }
  const topic = assertValidName('topic', ctx.params.t!);
  const subscription = assertValidName('subscription', ctx.params.s!);
  return { exchange, routingName: topic, key: subscriptionInboxKey(exchange, topic, subscription), subscription };
}

/** Seconds from a publish request's entries going to the log to their commit (acks=all: on every in-sync replica). */
const PUBLISH_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Publish, pull, ack, nack and dead letters: the message path of queues and subscriptions. */
export class InboxHandlers {
  private readonly publishDuration: Record<'all' | 'leader', HistogramSeries>;

  constructor(
    private readonly node: NodeRole,
    private readonly guard: RequestGuard,
    private readonly bodyLimit: number,
    metrics: Metrics,
    /** Long polls a user may hold open at once (`--max-long-polls-per-user`). */
    private readonly consumerSlots: PerUserSlots,
  ) {
    const histogram = metrics.histogram(
      'mom_publish_duration_seconds',
      'publish requests on this node, from handing their messages to the partition to their commit (acks=all: stored on every in-sync replica), by acks',
      ['acks'],
      PUBLISH_BUCKETS,
    );
    this.publishDuration = { all: histogram.series({ acks: 'all' }), leader: histogram.series({ acks: 'leader' }) };
  }

  /** The counters of the queue or subscription an inbox operation is about. */
  private counts(address: InboxAddress): MessageCounts {
    const metrics = this.node.messageMetrics;
    return address.subscription === undefined ? metrics.queue(address.exchange, address.routingName) : metrics.subscription(address.exchange, address.routingName, address.subscription);
  }

  publish(target: TargetKind) {
    return async (ctx: RequestContext): Promise<void> => {
      const exchange = ctx.params.ex!;
      await this.guard.authorize(ctx.req, 'publish', exchange);
      const name = assertValidName(target, target === 'queue' ? ctx.params.q! : ctx.params.t!);
      const acks = enumParam(ctx.query, 'acks', ['all', 'leader'] as const, 'all');
      const engine = this.node.engineFor(exchange, name);
      const inputs = parsePublishBody(await readJsonBody(ctx.req, this.bodyLimit));
      const started = performance.now();
      const result = await engine.publish(target, exchange, name, inputs, acks);
      this.publishDuration[acks].observe((performance.now() - started) / 1000);
      const counts = target === 'queue' ? this.node.messageMetrics.queue(exchange, name) : this.node.messageMetrics.topic(exchange, name);
      counts.published += inputs.length - result.duplicates;
      sendJson(ctx.res, 201, { ids: result.ids, duplicates: result.duplicates });
    };
  }

  /** The token, the grant, and for a subscription named after a user, that it is theirs. */
  private async authorizeInbox(ctx: RequestContext, action: Parameters<RequestGuard['authorize']>[1]): Promise<{ address: InboxAddress; principal: Principal }> {
    const address = inboxAddress(ctx);
    const principal = await this.guard.authorize(ctx.req, action, address.exchange);
    if (address.subscription !== undefined) await this.guard.authorizeSubscription(principal, address.subscription);
    return { address, principal };
  }

  readonly pull = async (ctx: RequestContext): Promise<void> => {
    const { address, principal } = await this.authorizeInbox(ctx, 'consume');
    const max = intParam(ctx.query, 'max', PULL_LIMITS.max.fallback, PULL_LIMITS.max.min, PULL_LIMITS.max.max);
    const waitMs = intParam(ctx.query, 'wait_ms', PULL_LIMITS.waitMs.fallback, PULL_LIMITS.waitMs.min, PULL_LIMITS.waitMs.max);
    const leaseMs = intParam(ctx.query, 'lease_ms', PULL_LIMITS.leaseMs.fallback, PULL_LIMITS.leaseMs.min, PULL_LIMITS.leaseMs.max);
    const engine = this.node.engineFor(address.exchange, address.routingName);
    const wait = this.node.isDraining ? 0 : waitMs;
    // Only pulls that may wait hold anything open; a refused one has done nothing yet.
    const release = wait > 0 ? this.consumerSlots.acquire(principal) : undefined;
    const abort = new AbortController();
    const onClose = () => abort.abort();
    ctx.res.once('close', onClose);
    try {
      const messages = await engine.pull(address.key, {
        max,
        waitMs: wait,
        leaseMs,
        user: principal.userId,
        signal: abort.signal,
      });
      countDeliveries(this.counts(address), messages);
      sendRawJson(ctx.res, 200, messagesJson(messages));
    } finally {
      ctx.res.off('close', onClose);
      release?.();
    }
  };

  /**
   * `GET …/stream`: push delivery as Server-Sent Events (DESIGN §8). Everything that can be
   * refused (token, permission, query values, the inbox, the leader) is checked before the
   * 200; from then on the stream lives until the client goes or the server ends it.
   */
  readonly stream = async (ctx: RequestContext): Promise<void> => {
    const { address, principal } = await this.authorizeInbox(ctx, 'consume');
    const prefetch = intParam(ctx.query, 'prefetch', STREAM_LIMITS.prefetch.fallback, STREAM_LIMITS.prefetch.min, STREAM_LIMITS.prefetch.max);
    const leaseMs = intParam(ctx.query, 'lease_ms', PULL_LIMITS.leaseMs.fallback, PULL_LIMITS.leaseMs.min, PULL_LIMITS.leaseMs.max);
    const engine = this.node.engineFor(address.exchange, address.routingName);
    engine.inbox(address.key);
    if (this.node.isDraining) throw new MomError('unavailable', 'this node is shutting down; reconnect');
    // A stream counts against the same per-user bound as long polls: both hold a socket open.
    const release = this.consumerSlots.acquire(principal);
    try {
      ctx.req.resume();
      const response = new EventStreamResponse(ctx.res);
      const counts = this.counts(address);
      const consumer = engine.openStream(address.key, response, {
        prefetch,
        leaseMs,
        user: principal.userId,
        render: (message) => {
          counts.delivered++;
          if (message.deliveries > 1) counts.redelivered++;
          return messageJson(message);
        },
      });
      // The client went away: what it held is delivered again at once.
      response.onClose(() => consumer.end());
      await consumer.whenEnded();
    } finally {
      release();
    }
  };

  readonly ack = async (ctx: RequestContext): Promise<void> => {
    const { address, principal } = await this.authorizeInbox(ctx, 'consume');
    const engine = this.node.engineFor(address.exchange, address.routingName);
    const { ids } = parseSettleBody(await readJsonBody(ctx.req, this.bodyLimit), false);
    const result = await engine.ack(address.key, ids, principal.userId);
    this.counts(address).acked += result.settled;
    sendJson(ctx.res, 200, { acked: result.settled, unknown: result.unknown });
  };

  readonly nack = async (ctx: RequestContext): Promise<void> => {
    const { address, principal } = await this.authorizeInbox(ctx, 'consume');
    const engine = this.node.engineFor(address.exchange, address.routingName);
    const { ids, requeue } = parseSettleBody(await readJsonBody(ctx.req, this.bodyLimit), true);
    const result = await engine.nack(address.key, ids, requeue, principal.userId);
    this.counts(address).nacked += result.settled;
    sendJson(ctx.res, 200, { nacked: result.settled, unknown: result.unknown });
  };

  readonly deadLetters = async (ctx: RequestContext): Promise<void> => {
    const { address } = await this.authorizeInbox(ctx, 'consume');
    const limit = intParam(ctx.query, 'max', 100, 1, 1000);
    const after = intParam(ctx.query, 'after', -1, -1, Number.MAX_SAFE_INTEGER);
    const engine = this.node.engineFor(address.exchange, address.routingName);
    sendRawJson(ctx.res, 200, deadLettersJson(engine.deadLetters(address.key, after, limit)));
  };

  readonly stats = async (ctx: RequestContext): Promise<void> => {
    const { address } = await this.authorizeInbox(ctx, ['consume', 'publish', 'configure']);
    const engine = this.node.engineFor(address.exchange, address.routingName);
    const inbox = engine.inbox(address.key);
    const stats = engine.stats(address.key);
    const body: Record<string, unknown> = {
      exchange: address.exchange,
      name: inbox.name,
      ...stats,
      partition: engine.partition,
      leader: this.node.nodeId,
    };
    if (inbox.kind === 'queue') body.options = inbox.options;
    sendJson(ctx.res, 200, body);
  };
}
