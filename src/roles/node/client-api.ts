import type { Coordinator } from '../../coordination/coordinator';
import { Router } from '../../http/router';
import type { Metrics } from '../../runtime/metrics';
import { DeclareHandlers } from './declare-handlers';
import { InboxHandlers } from './inbox-handlers';
import { ListingHandlers } from './listing-handlers';
import type { NodeRole } from './node-role';
import type { PerUserSlots } from './per-user-slots';
import { RepairHandlers } from './repair-handlers';
import type { RequestGuard } from './request-guard';

/**
 * The /v1 client API of a node (DESIGN §8), for the partitions it leads. `consumerSlots` bounds
 * what one user holds open at once (long polls; push streams are to share it).
 */
export function buildClientApi(node: NodeRole, coordinator: Coordinator, guard: RequestGuard, bodyLimit: number, metrics: Metrics, consumerSlots: PerUserSlots): Router {
  const declare = new DeclareHandlers(node, coordinator, guard, bodyLimit);
  const inbox = new InboxHandlers(node, guard, bodyLimit, metrics, consumerSlots);
  const listing = new ListingHandlers(node, coordinator, guard);
  const repair = new RepairHandlers(node, guard, bodyLimit);
  const ex = '/v1/exchanges/:ex';
  const queue = `${ex}/queues/:q`;
  const topic = `${ex}/topics/:t`;
  const subscription = `${topic}/subscriptions/:s`;
  return new Router()
    .get('/v1/exchanges', declare.listExchanges)
    .put(ex, declare.putExchange)
    .delete(ex, declare.deleteExchange)
    .get(`${ex}/queues`, listing.listQueues)
    .get(`${ex}/topics`, listing.listTopics)
    .put(queue, declare.putQueue)
    .get(queue, inbox.stats)
    .delete(queue, declare.deleteQueue)
    .post(`${queue}/messages`, inbox.publish('queue'))
    .get(`${queue}/messages`, inbox.pull)
    .get(`${queue}/stream`, inbox.stream)
    .post(`${queue}/ack`, inbox.ack)
    .post(`${queue}/nack`, inbox.nack)
    .get(`${queue}/dead-letters`, inbox.deadLetters)
    .delete(`${queue}/dead-letters`, repair.deleteDeadLetters)
    .post(`${queue}/dead-letters/redrive`, repair.redrive)
    .post(`${queue}/purge`, repair.purge)
    .put(topic, declare.putTopic)
    .delete(topic, declare.deleteTopic)
    .post(`${topic}/messages`, inbox.publish('topic'))
    .put(subscription, declare.putSubscription)
    .get(subscription, inbox.stats)
    .delete(subscription, declare.deleteSubscription)
    .get(`${subscription}/messages`, inbox.pull)
    .get(`${subscription}/stream`, inbox.stream)
    .post(`${subscription}/ack`, inbox.ack)
    .post(`${subscription}/nack`, inbox.nack)
    .get(`${subscription}/dead-letters`, inbox.deadLetters)
    .delete(`${subscription}/dead-letters`, repair.deleteDeadLetters)
    .post(`${subscription}/dead-letters/redrive`, repair.redrive)
    .post(`${subscription}/purge`, repair.purge);
}
