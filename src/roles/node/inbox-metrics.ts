import { queueInboxKey, subscriptionInboxKey, targetKey } from '../../core/entries';
import type { LabelValues, Metrics, Sample } from '../../runtime/metrics';
import type { Catalog, InboxRecord } from '../../store/catalog';

/**
 * Per queue, topic and subscription series of a node (DESIGN §8: labelled `exchange`,
 * `queue` / `topic` + `subscription`), with a bound on how many have series of their own.
 *
 * Counters are plain numbers bumped on the message path (one Map lookup per request) and
 * copied into the registry at scrape time; gauges (depth, in flight, dead letters, streams,
 * long polls) are read from the store and the engines at scrape time only.
 *
 * Cardinality: at most `limit` (--metrics-max-queues, default 1,000) queues, topics and
 * subscriptions have series of their own on a node. A slot is taken at the first request
 * that counts something for it, or at a scrape (in name order) for those led here that have
 * none yet; it is freed when the queue, topic or subscription is deleted. Past the limit,
 * the rest are summed into one series per kind whose every label is `.other` (a dot cannot
 * start a real name, so it never collides with one), and `mom_metrics_queues_aggregated`
 * says how many are summed there.
 */
export const OTHER_LABEL = '.other';

/** What the message path counts for one queue, topic or subscription. */
export interface MessageCounts {
  published: number;
  delivered: number;
  redelivered: number;
  acked: number;
  nacked: number;
}

/** Deliveries of a pull, and how many of them were redeliveries (delivered before). */
export function countDeliveries(counts: MessageCounts, messages: ReadonlyArray<{ deliveries: number }>): void {
  counts.delivered += messages.length;
  for (const message of messages) if (message.deliveries > 1) counts.redelivered++;
}

type SeriesKind = 'queue' | 'topic' | 'subscription';

interface Series {
  kind: SeriesKind;
  labels: LabelValues;
  counts: MessageCounts;
}

/** What a scrape reads of the node: the catalog, the partitions it leads and their load. */
export interface InboxSource {
  catalog: Catalog;
  /** Partitions this node leads now. */
  ledPartitions(): ReadonlySet<number>;
  /** Ready (leased included) and dead messages of every inbox that has any. */
  counts(): Map<number, { ready: number; dead: number }>;
  /** Leader-local load of an inbox of a partition led here. */
  load(inbox: InboxRecord): { inFlight: number; streams: number; waiting: number };
}

interface InboxGauges {
  labels: LabelValues;
  ready: number;
  inFlight: number;
  dead: number;
  streams: number;
  waiting: number;
}

/** One look at the node, taken at the first family a scrape collects and used by all of them. */
interface Snapshot {
  gauges: InboxGauges[];
  aggregated: number;
}

const COUNTERS: ReadonlyArray<{ name: string; help: string; field: keyof MessageCounts; kinds: readonly SeriesKind[] }> = [
  { name: 'mom_messages_published_total', help: 'messages stored by publishes (duplicates of a producer id not counted), per queue or topic', field: 'published', kinds: ['queue', 'topic'] },
  { name: 'mom_messages_delivered_total', help: 'messages handed to consumers by pulls and streams, redeliveries included, per queue or subscription', field: 'delivered', kinds: ['queue', 'subscription'] },
  { name: 'mom_messages_redelivered_total', help: 'deliveries of messages delivered before (after a nack or an expired lease), per queue or subscription', field: 'redelivered', kinds: ['queue', 'subscription'] },
  { name: 'mom_messages_acked_total', help: 'messages acknowledged, per queue or subscription', field: 'acked', kinds: ['queue', 'subscription'] },
  { name: 'mom_messages_nacked_total', help: 'messages nacked (requeued or dead-lettered by the consumer), per queue or subscription', field: 'nacked', kinds: ['queue', 'subscription'] },
];

const GAUGES: ReadonlyArray<{ name: string; help: string; field: keyof Omit<InboxGauges, 'labels'> }> = [
  { name: 'mom_messages_ready', help: 'messages waiting to be delivered (the stats\' depth), per queue or subscription led here', field: 'ready' },
  { name: 'mom_messages_in_flight', help: 'messages delivered and not yet settled (leased), per queue or subscription led here', field: 'inFlight' },
  { name: 'mom_dead_letters', help: 'messages in the dead letters, per queue or subscription led here', field: 'dead' },
  { name: 'mom_streams_open', help: 'push streams (GET …/stream) open, per queue or subscription led here', field: 'streams' },
  { name: 'mom_long_polls_waiting', help: 'pulls waiting for messages (wait_ms), per queue or subscription led here', field: 'waiting' },
];

const LABEL_NAMES = ['exchange', 'queue', 'topic', 'subscription'] as const;

function zero(): MessageCounts {
  return { published: 0, delivered: 0, redelivered: 0, acked: 0, nacked: 0 };
}

function otherLabels(kind: SeriesKind): LabelValues {
  if (kind === 'queue') return { exchange: OTHER_LABEL, queue: OTHER_LABEL };
  if (kind === 'topic') return { exchange: OTHER_LABEL, topic: OTHER_LABEL };
  return { exchange: OTHER_LABEL, topic: OTHER_LABEL, subscription: OTHER_LABEL };
}

export class InboxMetrics {
  private readonly series = new Map<string, Series>();
  private readonly other: Record<SeriesKind, Series & { used: boolean }>;
  private snapshot: Snapshot | undefined;
  private source: InboxSource | undefined;

  /** `limit`: queues, topics and subscriptions with series of their own (--metrics-max-queues). */
  constructor(readonly limit: number) {
    const other = (kind: SeriesKind) => ({ kind, labels: otherLabels(kind), counts: zero(), used: false });
    this.other = { queue: other('queue'), topic: other('topic'), subscription: other('subscription') };
  }

  // ---- the message path ----

  queue(exchange: string, queue: string): MessageCounts {
    return this.lookup(queueInboxKey(exchange, queue), 'queue', () => ({ exchange, queue }));
  }

  topic(exchange: string, topic: string): MessageCounts {
    return this.lookup(targetKey('topic', exchange, topic), 'topic', () => ({ exchange, topic }));
  }

  subscription(exchange: string, topic: string, subscription: string): MessageCounts {
    return this.lookup(subscriptionInboxKey(exchange, topic, subscription), 'subscription', () => ({ exchange, topic, subscription }));
  }

  private lookup(key: string, kind: SeriesKind, labels: () => LabelValues): MessageCounts {
    const found = this.series.get(key);
    if (found) return found.counts;
    if (this.series.size >= this.limit) {
      this.other[kind].used = true;
      return this.other[kind].counts;
    }
    const series: Series = { kind, labels: labels(), counts: zero() };
    this.series.set(key, series);
    return series.counts;
  }

  // ---- scrape time ----

  /** Registers the families; `source` is read at each scrape (none yet: only counters so far). */
  register(metrics: Metrics): void {
    metrics.onScrape(() => {
      this.snapshot = undefined;
    });
    for (const counter of COUNTERS) {
      metrics.counters(counter.name, counter.help, LABEL_NAMES, () => this.counterSamples(counter.field, counter.kinds));
    }
    for (const gauge of GAUGES) {
      metrics.gauges(gauge.name, gauge.help, LABEL_NAMES, () => this.look().gauges.map((g) => ({ labels: g.labels, value: g[gauge.field] })));
    }
    metrics.gauges(
      'mom_metrics_queues_aggregated',
      `queues, topics and subscriptions led here whose series are summed into the ones labelled ${OTHER_LABEL} (past --metrics-max-queues)`,
      [],
      () => [{ labels: {}, value: this.look().aggregated }],
    );
    metrics.gauge('mom_metrics_queues_limit', 'queues, topics and subscriptions that may have series of their own on this node (--metrics-max-queues)', () => this.limit);
  }

  /** What scrapes read; until set (the node is starting), gauges are empty. */
  attach(source: InboxSource | undefined): void {
    this.source = source;
    this.snapshot = undefined;
  }

  private counterSamples(field: keyof MessageCounts, kinds: readonly SeriesKind[]): Sample[] {
    this.look(); // frees the slots of what was deleted and gives series to what is led here
    const samples: Sample[] = [];
    for (const series of this.series.values()) {
      if (kinds.includes(series.kind)) samples.push({ labels: series.labels, value: series.counts[field] });
    }
    for (const kind of kinds) {
      const other = this.other[kind];
      if (other.used) samples.push({ labels: other.labels, value: other.counts[field] });
    }
    return samples;
  }

  private look(): Snapshot {
    this.snapshot ??= this.source ? this.read(this.source) : { gauges: [], aggregated: 0 };
    return this.snapshot;
  }

  private read(source: InboxSource): Snapshot {
    const { catalog } = source;
    // Deleted ones give their slot back (their counters go with them).
    for (const key of this.series.keys()) {
      const exists = key.startsWith('t:') ? catalog.topicsByKey.has(key.slice(2)) : catalog.inboxesByKey.has(key);
      if (!exists) this.series.delete(key);
    }
    const led = source.ledPartitions();
    const ledTopics = [...catalog.topicsById.values()].filter((topic) => led.has(topic.partition));
    const ledInboxes = [...catalog.inboxesById.values()].filter((inbox) => led.has(inbox.partition));
    // Slots for what is led here and has none yet, in name order.
    const unseen: Array<{ key: string; kind: SeriesKind; labels: LabelValues }> = [];
    for (const topic of ledTopics) {
      const key = targetKey('topic', topic.exchange, topic.name);
      if (!this.series.has(key)) unseen.push({ key, kind: 'topic', labels: { exchange: topic.exchange, topic: topic.name } });
    }
    for (const inbox of ledInboxes) {
      if (!this.series.has(inbox.key)) unseen.push({ key: inbox.key, kind: inbox.kind, labels: this.labelsOf(catalog, inbox) });
    }
    unseen.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    let aggregated = 0;
    for (const { key, kind, labels } of unseen) {
      if (this.series.size < this.limit) this.series.set(key, { kind, labels, counts: zero() });
      else {
        aggregated++;
        this.other[kind].used = true;
      }
    }

    const counts = source.counts();
    const gauges: InboxGauges[] = [];
    const others: Partial<Record<SeriesKind, InboxGauges>> = {};
    for (const inbox of ledInboxes) {
      const stored = counts.get(inbox.id) ?? { ready: 0, dead: 0 };
      const load = source.load(inbox);
      const own = this.series.get(inbox.key);
      let into: InboxGauges;
      if (own) {
        into = { labels: own.labels, ready: 0, inFlight: 0, dead: 0, streams: 0, waiting: 0 };
        gauges.push(into);
      } else {
        into = others[inbox.kind] ??= { labels: otherLabels(inbox.kind), ready: 0, inFlight: 0, dead: 0, streams: 0, waiting: 0 };
      }
      // As the stats answer them: ready counts leased messages too.
      into.ready += Math.max(0, stored.ready - load.inFlight);
      into.inFlight += load.inFlight;
      into.dead += stored.dead;
      into.streams += load.streams;
      into.waiting += load.waiting;
    }
    for (const other of Object.values(others)) gauges.push(other);
    return { gauges, aggregated };
  }

  private labelsOf(catalog: Catalog, inbox: InboxRecord): LabelValues {
    if (inbox.kind === 'queue') return { exchange: inbox.exchange, queue: inbox.name };
    const topic = inbox.topicId === null ? undefined : catalog.topicsById.get(inbox.topicId);
    return { exchange: inbox.exchange, topic: topic?.name ?? '', subscription: inbox.name };
  }
}
