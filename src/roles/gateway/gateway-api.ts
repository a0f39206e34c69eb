/**
 * The gateway's /v1 routes (DESIGN §8), each forwarded by the Forwarder: queue and topic
 * routes to the leader of their partition, exchange routes to any live node.
 */
import { MomError } from '../../core/errors';
import { sendJson } from '../../http/response';
import { Router, type RequestContext } from '../../http/router';
import { Forwarder, type ForwardTarget, type RouteSource } from './forwarder';
import type { PartitionMap } from '../../coordination/partition-map';

/** Every /v1 route of a node (src/roles/node/client-api.ts), answered through `forwarder`. */
export function buildGatewayApi(forwarder: Forwarder): Router {
  const ex = '/v1/exchanges/:ex';
  const queue = `${ex}/queues/:q`;
  const topic = `${ex}/topics/:t`;
  const subscription = `${topic}/subscriptions/:s`;

  const toExchange = (ctx: RequestContext) => forwarder.forward(ctx, { kind: 'exchange', exchange: ctx.params.ex });
  const toQueue = (ctx: RequestContext) => forwarder.forward(ctx, partitionOf(ctx, 'q', 'queue'));
  const toTopic = (ctx: RequestContext) => forwarder.forward(ctx, partitionOf(ctx, 't', 'topic'));

  return new Router()
    .get('/v1/exchanges', (ctx) => forwarder.forward(ctx, { kind: 'exchange' }))
    .put(ex, toExchange)
    .delete(ex, toExchange)
    // Lists span every partition: any node asks each partition's leader (listing-handlers.ts).
    .get(`${ex}/queues`, toExchange)
    .get(`${ex}/topics`, toExchange)
    .put(queue, toQueue)
    .get(queue, toQueue)
    .delete(queue, toQueue)
    .post(`${queue}/messages`, toQueue)
    .get(`${queue}/messages`, toQueue)
    .get(`${queue}/stream`, toQueue)
    .post(`${queue}/ack`, toQueue)
    .post(`${queue}/nack`, toQueue)
    .get(`${queue}/dead-letters`, toQueue)
    .delete(`${queue}/dead-letters`, toQueue)
    .post(`${queue}/dead-letters/redrive`, toQueue)
    .post(`${queue}/purge`, toQueue)
    .put(topic, toTopic)
    .delete(topic, toTopic)
    .post(`${topic}/messages`, toTopic)
    // A subscription lives in its topic's partition: routed by the topic's name.
    .put(subscription, toTopic)
    .get(subscription, toTopic)
    .delete(subscription, toTopic)
    .get(`${subscription}/messages`, toTopic)
    .get(`${subscription}/stream`, toTopic)
    .post(`${subscription}/ack`, toTopic)
    .post(`${subscription}/nack`, toTopic)
    .get(`${subscription}/dead-letters`, toTopic)
    .delete(`${subscription}/dead-letters`, toTopic)
    .post(`${subscription}/dead-letters/redrive`, toTopic)
    .post(`${subscription}/purge`, toTopic);
}

function partitionOf(ctx: RequestContext, param: 'q' | 't', nameKind: 'queue' | 'topic'): ForwardTarget {
  return { kind: 'partition', exchange: ctx.params.ex!, name: ctx.params[param]!, nameKind };
}

/**
 * The gateway's PartitionMap as a RouteSource. The table follows the coordinator's watches,
 * so there is nothing to refresh by hand: the forwarder's backoff gives the watch time to land.
 * Exchange-level requests go to partition 0's leader, or else to any partition's leader.
 */
export function routeSourceFromTable(table: PartitionMap): RouteSource {
  return {
    route: (exchange, name) => table.route(exchange, name),
    anyLocation: () => {
      const first = table.routeOf(0).node_location;
      if (first) return first;
      return table.all().find((route) => route.node_location !== null)?.node_location ?? null;
    },
    describe: () => ({ partitions: table.all().map((route) => ({ ...route, isr: table.isr(route.partition) })), nodes: table.liveNodes() }),
  };
}

/**
 * `GET /partitions` at the gateway: its copy of the map, in the partitioner's shape (DESIGN §6:
 * the public map a client may route with; no token, like the partitioner's). `controller` is
 * null: only a partitioner knows it. What `mombroker status` shows as nodes and partitions.
 */
export function buildGatewayMapRoute(routes: RouteSource): Router {
  return new Router().get('/partitions', (ctx) => {
    const view = routes.describe?.();
    if (!view) throw new MomError('unavailable', 'this gateway has no partition map yet; retry shortly');
    sendJson(ctx.res, 200, { partitions: view.partitions, controller: null, nodes: view.nodes });
  });
}
