/**
 * An exchange: its queues, and its topics with their subscriptions, each with ready, in-flight
 * and dead-letter counts and their rates; forms to declare queues and topics, subscribe, and
 * delete the exchange.
 */
import type { QueueListing, TopicListing } from '../api';
import { actionButton, badge, breadcrumb, countWithRate, enc, form, link, optionalInteger, section, table, type ViewContext, type ViewHandle } from '../components';
import { fill, h } from '../dom';
import { formatDuration } from '../format';

interface SubscriptionRow {
  topic: TopicListing;
  name: string;
  depth: number;
  in_flight: number;
  dead_letters: number;
}

export function exchangeView(ctx: ViewContext, exchange: string): ViewHandle {
  const base = `/v1/exchanges/${enc(exchange)}`;
  const queues = h('div');
  const topics = h('div');
  const key = (kind: string, name: string, field: string) => `${kind}:${exchange}/${name}:${field}`;

  const declareQueue = form(ctx, {
    name: 'declare-queue',
    inline: true,
    fields: [
      { name: 'name', label: 'Queue', placeholder: 'name', required: true },
      { name: 'max_deliveries', label: 'Max deliveries', type: 'number', placeholder: '0 = unlimited' },
      { name: 'message_ttl_ms', label: 'Message TTL (ms)', type: 'number', placeholder: 'none' },
      { name: 'max_length', label: 'Max length', type: 'number', placeholder: 'none' },
    ],
    submit: 'Declare queue',
    action: async (values) => {
      const body: Record<string, number> = {};
      for (const [field, label] of [
        ['max_deliveries', 'Max deliveries'],
        ['message_ttl_ms', 'Message TTL'],
        ['max_length', 'Max length'],
      ] as const) {
        const value = optionalInteger(values, field, label);
        if (value !== undefined) body[field] = value;
      }
      await ctx.api.put(`${base}/queues/${enc(values.name ?? '')}`, body);
      return `Queue ${values.name} declared`;
    },
  });

  const declareTopic = form(ctx, {
    name: 'declare-topic',
    inline: true,
    fields: [
      { name: 'name', label: 'Topic', placeholder: 'name', required: true },
      { name: 'retention_ms', label: 'Retention (ms)', type: 'number', placeholder: '7 days' },
    ],
    submit: 'Declare topic',
    action: async (values) => {
      const retention = optionalInteger(values, 'retention_ms', 'Retention');
      await ctx.api.put(`${base}/topics/${enc(values.name ?? '')}`, retention === undefined ? {} : { retention_ms: retention });
      return `Topic ${values.name} declared`;
    },
  });

  const subscribe = form(ctx, {
    name: 'subscribe',
    inline: true,
    fields: [
      { name: 'topic', label: 'Topic', placeholder: 'topic', required: true },
      { name: 'name', label: 'Subscription', placeholder: 'name', required: true },
      { name: 'from', label: 'From', type: 'select', options: ['latest', 'earliest'], value: 'latest' },
    ],
    submit: 'Subscribe',
    action: async (values) => {
      await ctx.api.put(`${base}/topics/${enc(values.topic ?? '')}/subscriptions/${enc(values.name ?? '')}`, { from: values.from });
      return `Subscription ${values.name} on ${values.topic} created`;
    },
  });

  const remove = actionButton(
    ctx,
    'Delete exchange',
    async () => {
      await ctx.api.delete(`${base}?force=true`);
      ctx.navigate({ name: 'overview' });
      return `Exchange ${exchange} deleted`;
    },
    { variant: 'danger', name: 'delete-exchange', confirm: `Delete exchange ${exchange} with all its queues, topics and messages?` },
  );

  const root = h(
    'div',
    { class: 'view exchange' },
    breadcrumb(link({ name: 'overview' }, 'Overview'), h('span', null, exchange)),
    h('div', { class: 'view-head' }, h('h1', null, h('span', { class: 'kind' }, 'Exchange'), ' ', exchange), h('div', { class: 'head-actions' }, remove)),
    section('Queues', queues, declareQueue),
    section('Topics and subscriptions', topics, declareTopic, subscribe),
  );

  async function refresh(): Promise<void> {
    const now = Date.now();
    const [queueList, topicList] = await Promise.all([ctx.api.get<{ queues: QueueListing[] }>(`${base}/queues`), ctx.api.get<{ topics: TopicListing[] }>(`${base}/topics`)]);
    for (const q of queueList.queues) {
      for (const field of ['depth', 'in_flight', 'dead_letters'] as const) ctx.rates.sample(key('queue', q.name, field), q[field], now);
    }
    const subscriptions: SubscriptionRow[] = topicList.topics.flatMap((topic) => topic.subscriptions.map((s) => ({ topic, ...s })));
    for (const s of subscriptions) {
      for (const field of ['depth', 'in_flight', 'dead_letters'] as const) ctx.rates.sample(key('sub', `${s.topic.name}/${s.name}`, field), s[field], now);
    }

    fill(
      queues,
      table(
        [
          { title: 'Queue', cell: (q) => link({ name: 'queue', exchange, queue: q.name }, q.name) },
          { title: 'Ready', numeric: true, field: 'depth', cell: (q) => countWithRate(ctx.rates, key('queue', q.name, 'depth'), q.depth) },
          { title: 'In flight', numeric: true, field: 'in_flight', cell: (q) => countWithRate(ctx.rates, key('queue', q.name, 'in_flight'), q.in_flight) },
          { title: 'Dead letters', numeric: true, field: 'dead_letters', cell: (q) => deadLetters(ctx, key('queue', q.name, 'dead_letters'), q.dead_letters) },
          { title: 'Partition', numeric: true, cell: (q) => String(q.partition) },
          { title: 'Leader', cell: (q) => q.leader ?? badge('none', 'bad') },
        ],
        queueList.queues,
        { empty: 'No queues in this exchange yet.', key: (q) => q.name },
      ),
    );

    const topicRows = topicList.topics.flatMap((topic) => [{ topic, sub: undefined }, ...topic.subscriptions.map((s) => ({ topic, sub: { ...s, topic } as SubscriptionRow }))]);
    fill(
      topics,
      table(
        [
          {
            title: 'Topic / subscription',
            cell: (row) =>
              row.sub
                ? h('span', { class: 'sub-name' }, '↳ ', link({ name: 'subscription', exchange, topic: row.topic.name, subscription: row.sub.name }, row.sub.name))
                : h('strong', null, row.topic.name),
          },
          { title: 'Ready', numeric: true, field: 'depth', cell: (row) => (row.sub ? countWithRate(ctx.rates, key('sub', `${row.topic.name}/${row.sub.name}`, 'depth'), row.sub.depth) : '') },
          { title: 'In flight', numeric: true, field: 'in_flight', cell: (row) => (row.sub ? countWithRate(ctx.rates, key('sub', `${row.topic.name}/${row.sub.name}`, 'in_flight'), row.sub.in_flight) : '') },
          { title: 'Dead letters', numeric: true, field: 'dead_letters', cell: (row) => (row.sub ? deadLetters(ctx, key('sub', `${row.topic.name}/${row.sub.name}`, 'dead_letters'), row.sub.dead_letters) : '') },
          { title: 'Retention', cell: (row) => (row.sub ? '' : formatDuration(row.topic.retention_ms)) },
          { title: 'Partition', numeric: true, cell: (row) => (row.sub ? '' : String(row.topic.partition)) },
          { title: 'Leader', cell: (row) => (row.sub ? '' : (row.topic.leader ?? badge('none', 'bad'))) },
        ],
        topicRows,
        {
          empty: 'No topics in this exchange yet.',
          key: (row) => (row.sub ? `${row.topic.name}/${row.sub.name}` : row.topic.name),
          rowClass: (row) => (row.sub ? 'sub-row' : 'topic-row'),
        },
      ),
    );
  }

  return { title: `Exchange ${exchange}`, root, refresh };
}

function deadLetters(ctx: ViewContext, key: string, count: number): ReturnType<typeof countWithRate> {
  return count > 0 ? h('span', { class: 'badge warn' }, countWithRate(ctx.rates, key, count)) : countWithRate(ctx.rates, key, count);
}
