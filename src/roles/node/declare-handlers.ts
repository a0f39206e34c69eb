import type { Coordinator } from '../../coordination/coordinator';
import { MomError } from '../../core/errors';
import { assertValidName } from '../../core/names';
import { isAllowed, ACTIONS } from '../../core/permissions';
import { parseQueueOptions, parseSubscriptionStart, parseTopicOptions } from '../../core/requests';
import { readJsonBody } from '../../http/body';
import { boolParam } from '../../http/query';
import { sendJson } from '../../http/response';
import type { RequestContext } from '../../http/router';
import type { NodeRole } from './node-role';
import type { RequestGuard } from './request-guard';

/**
 * Declarations (DESIGN §8): 201 when created, 200 when it exists with the same options,
 * 409 when the options differ. Exchanges live in the coordinator; queues, topics and
 * subscriptions are entries in their partition's log.
 */
export class DeclareHandlers {
  constructor(
    private readonly node: NodeRole,
    private readonly coordinator: Coordinator,
    private readonly guard: RequestGuard,
    private readonly bodyLimit: number,
  ) {}

  readonly putExchange = async (ctx: RequestContext): Promise<void> => {
    const exchange = ctx.params.ex!;
    await this.guard.authorize(ctx.req, 'configure', exchange);
    await readJsonBody(ctx.req, this.bodyLimit);
    const { created, exchange: info } = await this.coordinator.createExchange(exchange);
    sendJson(ctx.res, created ? 201 : 200, { name: info.name, created_at: info.createdAt });
  };

  readonly listExchanges = async (ctx: RequestContext): Promise<void> => {
    const principal = await this.guard.authenticate(ctx.req);
    const visible = (await this.coordinator.listExchanges()).filter((info) => ACTIONS.some((a) => isAllowed(principal, a, info.name)));
    sendJson(ctx.res, 200, { exchanges: visible.map((info) => ({ name: info.name, created_at: info.createdAt })) });
  };

  readonly deleteExchange = async (ctx: RequestContext): Promise<void> => {
    const exchange = ctx.params.ex!;
    await this.guard.authorize(ctx.req, 'configure', exchange);
    const force = boolParam(ctx.query, 'force', false);
    if (!(await this.coordinator.getExchange(exchange))) throw exchangeNotFound(exchange);
    const inUse = this.node.store.catalog.countInExchange(exchange);
    if (inUse > 0 && !force) {
      throw new MomError('conflict', `exchange ${exchange} still has ${inUse} queue(s)/topic(s); delete them first or use ?force=true`);
    }
    for (const engine of this.node.allEngines()) await engine.purgeExchange(exchange);
    await this.coordinator.deleteExchange(exchange);
    sendJson(ctx.res, 200, { deleted: exchange });
  };

  readonly putQueue = async (ctx: RequestContext): Promise<void> => {
    const exchange = ctx.params.ex!;
    await this.guard.authorize(ctx.req, 'configure', exchange);
    const queue = assertValidName('queue', ctx.params.q!);
    const options = parseQueueOptions(await readJsonBody(ctx.req, this.bodyLimit));
    await this.requireExchange(exchange);
    const engine = this.node.engineFor(exchange, queue);
    const created = await engine.declareQueue(exchange, queue, options);
    sendJson(ctx.res, created ? 201 : 200, { exchange, queue, options, partition: engine.partition });
  };

  readonly deleteQueue = async (ctx: RequestContext): Promise<void> => {
    const exchange = ctx.params.ex!;
    await this.guard.authorize(ctx.req, 'configure', exchange);
    const queue = assertValidName('queue', ctx.params.q!);
    await this.node.engineFor(exchange, queue).deleteQueue(exchange, queue);
    sendJson(ctx.res, 200, { deleted: `${exchange}/${queue}` });
  };

  readonly putTopic = async (ctx: RequestContext): Promise<void> => {
    const exchange = ctx.params.ex!;
    await this.guard.authorize(ctx.req, 'configure', exchange);
    const topic = assertValidName('topic', ctx.params.t!);
    const options = parseTopicOptions(await readJsonBody(ctx.req, this.bodyLimit));
    await this.requireExchange(exchange);
    const engine = this.node.engineFor(exchange, topic);
    const created = await engine.declareTopic(exchange, topic, options);
    sendJson(ctx.res, created ? 201 : 200, { exchange, topic, options, partition: engine.partition });
  };

  readonly deleteTopic = async (ctx: RequestContext): Promise<void> => {
    const exchange = ctx.params.ex!;
    await this.guard.authorize(ctx.req, 'configure', exchange);
    const topic = assertValidName('topic', ctx.params.t!);
    await this.node.engineFor(exchange, topic).deleteTopic(exchange, topic);
    sendJson(ctx.res, 200, { deleted: `${exchange}/${topic}` });
  };

  /** Subscribing is part of consuming: it needs `consume`, as MOM-py let each user subscribe. */
  readonly putSubscription = async (ctx: RequestContext): Promise<void> => {
    const exchange = ctx.params.ex!;
    await this.guard.authorize(ctx.req, ['consume', 'configure'], exchange);
    const topic = assertValidName('topic', ctx.params.t!);
    const subscription = assertValidName('subscription', ctx.params.s!);
    const from = parseSubscriptionStart(await readJsonBody(ctx.req, this.bodyLimit));
    const engine = this.node.engineFor(exchange, topic);
    const created = await engine.subscribe(exchange, topic, subscription, from);
    sendJson(ctx.res, created ? 201 : 200, { exchange, topic, subscription, from, partition: engine.partition });
  };

  readonly deleteSubscription = async (ctx: RequestContext): Promise<void> => {
    const exchange = ctx.params.ex!;
    await this.guard.authorize(ctx.req, ['consume', 'configure'], exchange);
    const topic = assertValidName('topic', ctx.params.t!);
    const subscription = assertValidName('subscription', ctx.params.s!);
    await this.node.engineFor(exchange, topic).unsubscribe(exchange, topic, subscription);
    sendJson(ctx.res, 200, { deleted: `${exchange}/${topic}/${subscription}` });
  };

  private async requireExchange(exchange: string): Promise<void> {
    if (!(await this.coordinator.getExchange(exchange))) throw exchangeNotFound(exchange);
  }
}

function exchangeNotFound(exchange: string): MomError {
  return new MomError('exchange_not_found', `exchange ${exchange} does not exist; declare it with PUT /v1/exchanges/${exchange}`);
}
