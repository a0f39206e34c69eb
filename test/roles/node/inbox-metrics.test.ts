/**
 * src/roles/node/inbox-metrics.ts: per queue, topic and subscription series, and the bound on
 * how many have series of their own (--metrics-max-queues): the rest are summed into series
 * labelled `.other`, slots go in name order at a scrape and come back when a queue is deleted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_QUEUE_OPTIONS, queueInboxKey, subscriptionInboxKey } from '../../../src/core/entries';
import { InboxMetrics, OTHER_LABEL, countDeliveries, type InboxSource } from '../../../src/roles/node/inbox-metrics';
import { Metrics } from '../../../src/runtime/metrics';
import { Catalog, type InboxRecord } from '../../../src/store/catalog';
import { conventionProblems, parsePrometheusText, samples, value, valueOrUndefined, type Scrape } from '../../helpers/prometheus';

class FakeNode {
  readonly catalog = new Catalog();
  readonly led = new Set<number>([0]);
  readonly stored = new Map<number, { ready: number; dead: number }>();
  readonly loads = new Map<number, { inFlight: number; streams: number; waiting: number }>();
  private nextId = 1;

  queue(exchange: string, name: string, partition = 0): InboxRecord {
    const inbox: InboxRecord = { id: this.nextId++, partition, key: queueInboxKey(exchange, name), kind: 'queue', exchange, name, topicId: null, options: DEFAULT_QUEUE_OPTIONS, createdAt: 0 };
    this.catalog.addInbox(inbox);
    return inbox;
  }

  subscription(exchange: string, topic: string, name: string, partition = 0): InboxRecord {
    let record = this.catalog.topic(exchange, topic);
    if (!record) {
      record = { id: this.nextId++, partition, exchange, name: topic, options: { retention_ms: 1000 }, createdAt: 0, subscriptions: new Set() };
      this.catalog.addTopic(record);
    }
    const inbox: InboxRecord = { id: this.nextId++, partition, key: subscriptionInboxKey(exchange, topic, name), kind: 'subscription', exchange, name, topicId: record.id, options: DEFAULT_QUEUE_OPTIONS, createdAt: 0 };
    this.catalog.addInbox(inbox);
    return inbox;
  }

  source(): InboxSource {
    return {
      catalog: this.catalog,
      ledPartitions: () => this.led,
      counts: () => this.stored,
      load: (inbox) => this.loads.get(inbox.id) ?? { inFlight: 0, streams: 0, waiting: 0 },
    };
  }
}

function setUp(limit: number): { node: FakeNode; inboxes: InboxMetrics; scrape: () => Promise<Scrape> } {
  const node = new FakeNode();
  const metrics = new Metrics({ processMetrics: false });
  const inboxes = new InboxMetrics(limit);
  inboxes.register(metrics);
  inboxes.attach(node.source());
  const scrape = async () => parsePrometheusText(await metrics.render());
  return { node, inboxes, scrape };
}

test('counters and gauges per queue and per subscription, labelled exchange, queue / topic + subscription', async () => {
  const { node, inboxes, scrape } = setUp(1000);
  const orders = node.queue('shop', 'orders');
  const audit = node.subscription('shop', 'news', 'audit');
  inboxes.queue('shop', 'orders').published += 5;
  countDeliveries(inboxes.queue('shop', 'orders'), [{ deliveries: 1 }, { deliveries: 2 }]);
  inboxes.queue('shop', 'orders').acked += 1;
  inboxes.topic('shop', 'news').published += 3;
  inboxes.subscription('shop', 'news', 'audit').nacked += 2;
  node.stored.set(orders.id, { ready: 4, dead: 1 });
  node.loads.set(orders.id, { inFlight: 1, streams: 2, waiting: 3 });
  node.stored.set(audit.id, { ready: 3, dead: 0 });

  const scraped = await scrape();
  assert.deepEqual(conventionProblems(scraped), []);
  const q = { exchange: 'shop', queue: 'orders' };
  const s = { exchange: 'shop', topic: 'news', subscription: 'audit' };
  assert.equal(value(scraped, 'mom_messages_published_total', q), 5);
  assert.equal(value(scraped, 'mom_messages_published_total', { exchange: 'shop', topic: 'news' }), 3);
  assert.equal(value(scraped, 'mom_messages_delivered_total', q), 2);
  assert.equal(value(scraped, 'mom_messages_redelivered_total', q), 1);
  assert.equal(value(scraped, 'mom_messages_acked_total', q), 1);
  assert.equal(value(scraped, 'mom_messages_nacked_total', s), 2);
  assert.equal(value(scraped, 'mom_messages_delivered_total', s), 0, 'a subscription seen at a scrape starts at 0');
  assert.equal(valueOrUndefined(scraped, 'mom_messages_published_total', s), undefined, 'subscriptions have no publish counter');
  assert.equal(value(scraped, 'mom_messages_ready', q), 3, 'ready excludes the leased one, as the stats\' depth does');
  assert.equal(value(scraped, 'mom_messages_in_flight', q), 1);
  assert.equal(value(scraped, 'mom_dead_letters', q), 1);
  assert.equal(value(scraped, 'mom_streams_open', q), 2);
  assert.equal(value(scraped, 'mom_long_polls_waiting', q), 3);
  assert.equal(value(scraped, 'mom_messages_ready', s), 3);
  assert.equal(value(scraped, 'mom_metrics_queues_aggregated'), 0);
  assert.equal(samples(scraped, 'mom_messages_ready', { exchange: OTHER_LABEL }).length, 0, 'no aggregate below the limit');

  // Led elsewhere now: its counters stay, its gauges are the new leader's to report.
  node.led.clear();
  const later = await scrape();
  assert.equal(value(later, 'mom_messages_published_total', q), 5);
  assert.equal(samples(later, 'mom_messages_ready').length, 0);
});

test('past the limit, the rest are summed into .other series, slots go in name order and come back on deletion', async () => {
  const { node, inboxes, scrape } = setUp(2);
  const queues = ['d', 'c', 'b', 'a'].map((name) => node.queue('ex', name));
  for (const queue of queues) node.stored.set(queue.id, { ready: 10, dead: 0 });

  let scraped = await scrape();
  // The first scrape gives the two slots in name order: a and b.
  assert.deepEqual(samples(scraped, 'mom_messages_ready').map((s) => s.labels.queue).sort(), [OTHER_LABEL, 'a', 'b']);
  assert.equal(value(scraped, 'mom_messages_ready', { exchange: OTHER_LABEL, queue: OTHER_LABEL }), 20, 'c and d summed');
  assert.equal(value(scraped, 'mom_metrics_queues_aggregated'), 2);
  assert.equal(value(scraped, 'mom_metrics_queues_limit'), 2);

  // The message path counts c into the aggregate: it has no slot.
  inboxes.queue('ex', 'c').published += 4;
  inboxes.queue('ex', 'a').published += 1;
  scraped = await scrape();
  assert.equal(value(scraped, 'mom_messages_published_total', { exchange: OTHER_LABEL, queue: OTHER_LABEL }), 4);
  assert.equal(value(scraped, 'mom_messages_published_total', { exchange: 'ex', queue: 'a' }), 1);
  assert.equal(samples(scraped, 'mom_messages_published_total').length, 3, 'a, b and the aggregate: never c or d');

  // Deleting a frees its slot: c (first by name of the rest) takes it at the next scrape.
  node.catalog.removeInbox(queues[3]!);
  scraped = await scrape();
  assert.deepEqual(samples(scraped, 'mom_messages_ready').map((s) => s.labels.queue).sort(), [OTHER_LABEL, 'b', 'c']);
  assert.equal(value(scraped, 'mom_metrics_queues_aggregated'), 1);
  assert.equal(valueOrUndefined(scraped, 'mom_messages_published_total', { exchange: 'ex', queue: 'a' }), undefined, 'a deleted queue\'s series go');
  assert.equal(value(scraped, 'mom_messages_published_total', { exchange: OTHER_LABEL, queue: OTHER_LABEL }), 4, 'the aggregate keeps what it counted');
  assert.deepEqual(conventionProblems(scraped), []);
});

test('a limit of 0 sums everything; kinds keep their own aggregates', async () => {
  const { node, inboxes, scrape } = setUp(0);
  node.queue('ex', 'q');
  node.subscription('ex', 't', 's');
  inboxes.queue('ex', 'q').acked += 2;
  inboxes.subscription('ex', 't', 's').acked += 3;
  const scraped = await scrape();
  assert.equal(value(scraped, 'mom_messages_acked_total', { exchange: OTHER_LABEL, queue: OTHER_LABEL }), 2);
  assert.equal(value(scraped, 'mom_messages_acked_total', { exchange: OTHER_LABEL, topic: OTHER_LABEL, subscription: OTHER_LABEL }), 3);
  assert.equal(value(scraped, 'mom_metrics_queues_aggregated'), 3, 'the queue, the topic and the subscription');
});

test('until the node has started, a scrape lists counters and no gauges', async () => {
  const metrics = new Metrics({ processMetrics: false });
  const inboxes = new InboxMetrics(10);
  inboxes.register(metrics);
  const scraped = parsePrometheusText(await metrics.render());
  assert.equal(samples(scraped, 'mom_messages_ready').length, 0);
  assert.equal(value(scraped, 'mom_metrics_queues_aggregated'), 0);
});
