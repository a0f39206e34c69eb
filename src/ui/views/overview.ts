/**
 * The overview: the broker (version, roles), message rates, every exchange the user may see
 * with its totals, the nodes, and every partition with its leader, epoch and in-sync replicas.
 */
import type { Health, PartitionMapAnswer, QueueListing, TopicListing } from '../api';
import { badge, card, countWithRate, describeError, enc, form, link, section, table, type ViewContext, type ViewHandle } from '../components';
import { fill, h } from '../dom';
import { formatCount, formatDuration, formatRate, formatThroughput } from '../format';
import { sumSeries } from '../metrics-text';

/** Exchanges whose queues and topics the overview polls; the rest are listed without totals. */
const MAX_EXCHANGES_WITH_TOTALS = 50;

/** The counters of GET /metrics whose rates the overview shows, where this address counts messages. */
const MESSAGE_COUNTERS = [
  ['published', 'mom_messages_published_total'],
  ['delivered', 'mom_messages_delivered_total'],
  ['acked', 'mom_messages_acked_total'],
] as const;

interface ExchangeTotals {
  name: string;
  queues?: number;
  topics?: number;
  depth?: number;
  inFlight?: number;
  deadLetters?: number;
  error?: string;
}

export function overviewView(ctx: ViewContext): ViewHandle {
  const cards = h('div', { class: 'cards' });
  const exchanges = h('div');
  const nodes = h('div');
  const partitions = h('div');
  const broker = h('div', { class: 'broker-facts' });

  const declare = form(ctx, {
    name: 'declare-exchange',
    inline: true,
    fields: [{ name: 'name', label: 'New exchange', placeholder: 'name', required: true }],
    submit: 'Declare exchange',
    action: async (values) => {
      const name = values.name ?? '';
      await ctx.api.put(`/v1/exchanges/${enc(name)}`);
      return `Exchange ${name} declared`;
    },
  });

  const root = h(
    'div',
    { class: 'view overview' },
    h('div', { class: 'view-head' }, h('h1', null, 'Overview'), broker),
    cards,
    section('Exchanges', exchanges, declare),
    h('div', { class: 'columns' }, section('Nodes', nodes), section('Partitions', partitions)),
  );

  async function refresh(): Promise<void> {
    const now = Date.now();
    const [health, map, list, metrics] = await Promise.allSettled([
      ctx.api.get<Health>('/health'),
      ctx.api.get<PartitionMapAnswer>('/partitions'),
      ctx.api.get<{ exchanges: Array<{ name: string }> }>('/v1/exchanges'),
      ctx.api.text('/metrics'),
    ]);
    if (list.status === 'rejected') throw list.reason;

    const names = list.value.exchanges.map((exchange) => exchange.name).sort();
    const totals = await Promise.all(names.map((name, i) => (i < MAX_EXCHANGES_WITH_TOTALS ? exchangeTotals(ctx, name) : Promise.resolve<ExchangeTotals>({ name }))));
    const sum = (pick: (t: ExchangeTotals) => number | undefined) => totals.reduce((acc, t) => acc + (pick(t) ?? 0), 0);
    const ready = sum((t) => t.depth);
    const inFlight = sum((t) => t.inFlight);
    const dead = sum((t) => t.deadLetters);
    const readyRate = ctx.rates.sample('overview:depth', ready, now);
    ctx.rates.sample('overview:in_flight', inFlight, now);
    const deadRate = ctx.rates.sample('overview:dead_letters', dead, now);
    for (const t of totals) {
      if (t.depth !== undefined) ctx.rates.sample(`exchange:${t.name}:depth`, t.depth, now);
    }

    const messageRates = MESSAGE_COUNTERS.map(([label, metric]) => {
      const value = metrics.status === 'fulfilled' ? sumSeries(metrics.value, metric) : undefined;
      return { label, rate: value === undefined ? undefined : ctx.rates.sample(`metrics:${metric}`, value, now, { counter: true }), counted: value !== undefined };
    });
    const counted = messageRates.some((rate) => rate.counted);
    const partitionsAnswer = map.status === 'fulfilled' ? map.value : undefined;
    const leaderless = partitionsAnswer?.partitions.filter((p) => p.leader === null).length ?? 0;
    const shortIsr = partitionsAnswer?.partitions.filter((p) => p.isr !== undefined && p.isr.length < p.replicas.length).length ?? 0;

    fill(
      cards,
      card('Ready', formatCount(ready), { field: 'total-depth', sub: formatRate(readyRate) }),
      card('In flight', formatCount(inFlight), { field: 'total-in-flight' }),
      card('Dead letters', formatCount(dead), { field: 'total-dead-letters', sub: formatRate(deadRate), tone: dead > 0 ? 'warn' : undefined }),
      ...messageRates.map((rate) => card(rate.label[0]!.toUpperCase() + rate.label.slice(1), counted ? formatThroughput(rate.rate) : '—', { field: `rate-${rate.label}`, sub: counted ? 'messages' : 'not counted here' })),
      card('Nodes', partitionsAnswer ? String(partitionsAnswer.nodes.length) : '—', { field: 'nodes' }),
      card('Partitions', partitionsAnswer ? String(partitionsAnswer.partitions.length) : '—', {
        field: 'partitions',
        sub: leaderless > 0 ? `${leaderless} without a leader` : shortIsr > 0 ? `${shortIsr} with a short ISR` : 'all led, ISR full',
        tone: leaderless > 0 ? 'bad' : shortIsr > 0 ? 'warn' : undefined,
      }),
    );

    fill(
      broker,
      health.status === 'fulfilled'
        ? [
            h('span', null, `version ${health.value.version}`),
            h('span', null, `node ${health.value.node_id}`),
            h('span', null, `roles ${health.value.roles.join(', ')}`),
            h('span', null, `up ${formatDuration(health.value.uptime_ms)}`),
          ]
        : h('span', { class: 'error-text' }, `health: ${describeError(health.reason)}`),
    );

    fill(
      exchanges,
      table(
        [
          { title: 'Exchange', cell: (t) => link({ name: 'exchange', exchange: t.name }, t.name) },
          { title: 'Queues', numeric: true, field: 'queues', cell: (t) => formatCount(t.queues) },
          { title: 'Topics', numeric: true, field: 'topics', cell: (t) => formatCount(t.topics) },
          { title: 'Ready', numeric: true, field: 'depth', cell: (t) => (t.depth === undefined ? '—' : countWithRate(ctx.rates, `exchange:${t.name}:depth`, t.depth)) },
          { title: 'In flight', numeric: true, field: 'in_flight', cell: (t) => formatCount(t.inFlight) },
          { title: 'Dead letters', numeric: true, field: 'dead_letters', cell: (t) => (t.deadLetters ? badge(formatCount(t.deadLetters), 'warn') : formatCount(t.deadLetters)) },
          { title: '', cell: (t) => (t.error ? h('span', { class: 'error-text' }, t.error) : null) },
        ],
        totals,
        { empty: 'No exchange you have a grant on. Declare one below (needs configure on it), or ask an admin for a grant.', key: (t) => t.name },
      ),
      names.length > MAX_EXCHANGES_WITH_TOTALS ? h('p', { class: 'hint' }, `Totals for the first ${MAX_EXCHANGES_WITH_TOTALS} exchanges only; open an exchange for its own.`) : null,
    );

    if (!partitionsAnswer) {
      const why = map.status === 'rejected' ? describeError(map.reason) : '';
      fill(nodes, h('p', { class: 'error-text' }, `GET /partitions: ${why}`));
      fill(partitions, h('p', { class: 'error-text' }, `GET /partitions: ${why}`));
      return;
    }
    const led = new Map<string, number>();
    for (const p of partitionsAnswer.partitions) if (p.leader) led.set(p.leader, (led.get(p.leader) ?? 0) + 1);
    fill(
      nodes,
      table(
        [
          { title: 'Node', cell: (n) => h('strong', null, n.id) },
          { title: 'HTTP', cell: (n) => h('code', null, n.http) },
          { title: 'gRPC', cell: (n) => (n.grpc ? h('code', null, n.grpc) : '—') },
          { title: 'Version', cell: (n) => n.version ?? '—' },
          { title: 'Leads', numeric: true, field: 'leads', cell: (n) => formatCount(led.get(n.id) ?? 0) },
        ],
        partitionsAnswer.nodes,
        { empty: 'No live node registered.', key: (n) => n.id },
      ),
    );
    fill(
      partitions,
      table(
        [
          { title: '#', numeric: true, cell: (p) => String(p.partition) },
          { title: 'Leader', field: 'leader', cell: (p) => (p.leader ? p.leader : badge('none', 'bad')) },
          { title: 'Epoch', numeric: true, field: 'epoch', cell: (p) => String(p.leader_epoch) },
          { title: 'Replicas', cell: (p) => p.replicas.join(', ') },
          {
            title: 'ISR',
            field: 'isr',
            cell: (p) => (p.isr === undefined ? '—' : p.isr.length < p.replicas.length ? badge(p.isr.join(', ') || 'empty', 'warn') : p.isr.join(', ')),
          },
        ],
        partitionsAnswer.partitions,
        { empty: 'No partitions yet: the controller places them once nodes register.', key: (p) => String(p.partition), rowClass: (p) => (p.leader === null ? 'row-bad' : undefined) },
      ),
    );
  }

  return { title: 'Overview', root, refresh };
}

async function exchangeTotals(ctx: ViewContext, name: string): Promise<ExchangeTotals> {
  try {
    const [queues, topics] = await Promise.all([
      ctx.api.get<{ queues: QueueListing[] }>(`/v1/exchanges/${enc(name)}/queues`),
      ctx.api.get<{ topics: TopicListing[] }>(`/v1/exchanges/${enc(name)}/topics`),
    ]);
    const inboxes = [...queues.queues, ...topics.topics.flatMap((topic) => topic.subscriptions)];
    return {
      name,
      queues: queues.queues.length,
      topics: topics.topics.length,
      depth: inboxes.reduce((acc, inbox) => acc + inbox.depth, 0),
      inFlight: inboxes.reduce((acc, inbox) => acc + inbox.in_flight, 0),
      deadLetters: inboxes.reduce((acc, inbox) => acc + inbox.dead_letters, 0),
    };
  } catch (error) {
    return { name, error: describeError(error) };
  }
}
