import { request } from 'undici';
import type { Coordinator } from '../../coordination/coordinator';
import { MomError } from '../../core/errors';
import { assertValidName } from '../../core/names';
import { isAllowed, ACTIONS } from '../../core/permissions';
import { parseQueueOptions, parseSubscriptionStart, parseTopicOptions } from '../../core/requests';
import { readJsonBody } from '../../http/body';
import { boolParam, intParam } from '../../http/query';
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

  /**
   * Deleting an exchange purges its queues and topics in every partition: here for the ones
   * this node leads, through each other leader (`?partition=N`, the same route) for the rest.
   */
  readonly deleteExchange = async (ctx: RequestContext): Promise<void> => {
    const exchange = ctx.params.ex!;
    await this.guard.authorize(ctx.req, 'configure', exchange);
    const force = boolParam(ctx.query, 'force', false);
    const only = ctx.query.get('partition');
    if (only !== null) {
      const partition = intParam(ctx.query, 'partition', 0, 0, this.node.partitionTotal - 1);
      const engine = this.node.allEngines().find((e) => e.partition === partition);
      if (!engine) throw this.node.notLeader(partition);
      await engine.purgeExchange(exchange);
      sendJson(ctx.res, 200, { purged: exchange, partition });
      return;
    }
    if (!(await this.coordinator.getExchange(exchange))) throw exchangeNotFound(exchange);
    const inUse = this.node.store.catalog.countInExchange(exchange);
    if (inUse > 0 && !force) {
      throw new MomError('conflict', `exchange ${exchange} still has ${inUse} queue(s)/topic(s); delete them first or use ?force=true`);
    }
    const led = new Map(this.node.allEngines().map((engine) => [engine.partition, engine]));
    for (let partition = 0; partition < this.node.partitionTotal; partition++) {
      const engine = led.get(partition);
      if (engine) await engine.purgeExchange(exchange);
      else await this.purgeRemote(exchange, partition, ctx.req.headers.authorization);
    }
    await this.coordinator.deleteExchange(exchange);
    sendJson(ctx.res, 200, { deleted: exchange });
  };

  private async purgeRemote(exchange: string, partition: number, authorization: string | undefined): Promise<void> {
    const { node_location: location } = this.node.leaderOf(partition);
    if (!location) throw new MomError('unavailable', `partition ${partition} has no leader right now; retry the delete shortly`);
    const response = await request(`${location}/v1/exchanges/${encodeURIComponent(exchange)}?force=true&partition=${partition}`, {
      method: 'DELETE',
      headers: authorization ? { authorization } : {},
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
      ...(this.node.peerHttp ? { dispatcher: this.node.peerHttp } : {}),
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) {
      throw new MomError('unavailable', `could not purge exchange ${exchange} in partition ${partition} at ${location} (${response.statusCode}: ${text.slice(0, 200)}); retry the delete`);
    }
  }

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

  /**
   * Subscribing is part of consuming: it needs `consume`, as MOM-py let each user subscribe.
   * A subscription named after another user is theirs (DESIGN §7).
   */
  readonly putSubscription = async (ctx: RequestContext): Promise<void> => {
    const exchange = ctx.params.ex!;
    const principal = await this.guard.authorize(ctx.req, ['consume', 'configure'], exchange);
    const topic = assertValidName('topic', ctx.params.t!);
    const subscription = assertValidName('subscription', ctx.params.s!);
    await this.guard.authorizeSubscription(principal, subscription);
    const from = parseSubscriptionStart(await readJsonBody(ctx.req, this.bodyLimit));
    const engine = this.node.engineFor(exchange, topic);
    const created = await engine.subscribe(exchange, topic, subscription, from);
    sendJson(ctx.res, created ? 201 : 200, { exchange, topic, subscription, from, partition: engine.partition });
  };

  /** Deleting needs `configure` (DESIGN §7), and a per-user subscription is its user's. */
  readonly deleteSubscription = async (ctx: RequestContext): Promise<void> => {
    const exchange = ctx.params.ex!;
    const principal = await this.guard.authorize(ctx.req, 'configure', exchange);
    const topic = assertValidName('topic', ctx.params.t!);
    const subscription = assertValidName('subscription', ctx.params.s!);
    await this.guard.authorizeSubscription(principal, subscription);
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
