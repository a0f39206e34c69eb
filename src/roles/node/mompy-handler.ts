import type { Coordinator } from '../../coordination/coordinator';
import { queueInboxKey, subscriptionInboxKey, DEFAULT_QUEUE_OPTIONS, DEFAULT_TOPIC_OPTIONS } from '../../core/entries';
import { MomError } from '../../core/errors';
import { isAllowed, type Principal } from '../../core/permissions';
import { readJsonBody } from '../../http/body';
import { sendJson, sendRawJson } from '../../http/response';
import type { RequestContext } from '../../http/router';
import type { NodeRole } from './node-role';
import type { PartitionEngine } from './engine/partition-engine';
import { countDeliveries } from './inbox-metrics';
import type { RequestGuard } from './request-guard';
import { parseMomPyRequest, type MomPyRequest } from '../../core/mompy-request';

/**
 * A node's `POST /` in MOM-py's protocol (DESIGN §8). The user is the token's, never the body's.
 * Pulls here are acked on delivery: at-most-once, as MOM-py was. A push or subscribe to a queue
 * or topic that does not exist creates it when the user may configure the exchange, as MOM-py did.
 */
export class MomPyHandler {
  constructor(
    private readonly node: NodeRole,
    private readonly coordinator: Coordinator,
    private readonly guard: RequestGuard,
    private readonly bodyLimit: number,
  ) {}

  readonly handle = async (ctx: RequestContext): Promise<void> => {
    const principal = await this.guard.authenticate(ctx.req);
    const request = parseMomPyRequest(await readJsonBody(ctx.req, this.bodyLimit));
    const { exchange, routingKey } = request;
    const engine = this.node.engineFor(exchange, routingKey);
    if (request.operation === 'push') {
      await this.guard.authorize(ctx.req, 'publish', exchange);
      await this.ensureTarget(engine, principal, request);
      const target = request.type === 'q' ? 'queue' : 'topic';
      const result = await engine.publish(target, exchange, routingKey, [
        { payload: JSON.stringify(request.body ?? null), headers: JSON.stringify(request.headers), producerId: undefined },
      ], 'all');
      const metrics = this.node.messageMetrics;
      (target === 'queue' ? metrics.queue(exchange, routingKey) : metrics.topic(exchange, routingKey)).published += 1 - result.duplicates;
      sendJson(ctx.res, 200, { status: 'Message pushed', id: result.ids[0], exchange, routing_key: routingKey });
      return;
    }
    await this.guard.authorize(ctx.req, 'consume', exchange);
    if (request.operation === 'subscribe') {
      await this.ensureTarget(engine, principal, request);
      const created = await engine.subscribe(exchange, routingKey, subscriptionName(principal), 'latest');
      sendJson(ctx.res, 200, { status: created ? 'Subscribed' : 'Already subscribed', exchange, routing_key: routingKey, subscription: subscriptionName(principal) });
      return;
    }
    const inboxKey = request.type === 'q' ? queueInboxKey(exchange, routingKey) : subscriptionInboxKey(exchange, routingKey, subscriptionName(principal));
    const [message] = await engine.pull(inboxKey, { max: 1, waitMs: 0, leaseMs: 30_000, user: principal.userId });
    if (!message) {
      sendJson(ctx.res, 404, { status: 'No messages', exchange, routing_key: routingKey });
      return;
    }
    const acked = await engine.ack(inboxKey, [message.msg_id], principal.userId);
    const metrics = this.node.messageMetrics;
    const counts = request.type === 'q' ? metrics.queue(exchange, routingKey) : metrics.subscription(exchange, routingKey, subscriptionName(principal));
    countDeliveries(counts, [message]);
    counts.acked += acked.settled;
    sendRawJson(
      ctx.res,
      200,
      `{"status":"Message delivered","message":{"id":${JSON.stringify(message.msg_id)},"headers":${message.headers ?? '{}'},"body":${message.payload}}}`,
    );
  };

  private async ensureTarget(engine: PartitionEngine, principal: Principal, request: MomPyRequest): Promise<void> {
    const { exchange, routingKey } = request;
    const catalog = this.node.store.catalog;
    const exists = request.type === 'q' ? catalog.inbox(queueInboxKey(exchange, routingKey)) !== undefined : catalog.topic(exchange, routingKey) !== undefined;
    if (exists) return;
    if (!isAllowed(principal, 'configure', exchange)) {
      const kind = request.type === 'q' ? 'queue' : 'topic';
      throw new MomError(kind === 'queue' ? 'queue_not_found' : 'topic_not_found', `${kind} ${exchange}/${routingKey} does not exist and ${principal.username} may not create it`);
    }
    await this.coordinator.createExchange(exchange);
    if (request.type === 'q') await engine.declareQueue(exchange, routingKey, DEFAULT_QUEUE_OPTIONS);
    else await engine.declareTopic(exchange, routingKey, DEFAULT_TOPIC_OPTIONS);
  }
}

/** MOM-py gave each subscribed user its own queue; here each user gets a subscription named after them. */
function subscriptionName(principal: Principal): string {
  return principal.username;
}
