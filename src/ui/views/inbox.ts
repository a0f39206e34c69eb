/**
 * A queue's page, or a subscription's (both are inboxes: the same pull, ack, dead letters and
 * repair routes): its counts and rates, publishing a test message, a look at its messages,
 * purge, and its dead letters with redrive and delete.
 *
 * Looking at ready messages: the API has no read that leaves a message untouched, so "Get
 * messages" does what RabbitMQ's management page does: it pulls with a short lease and nacks
 * at once with requeue. That counts a delivery (`deliveries` + 1), puts the messages ahead of
 * the others, and a message on its last allowed delivery (`max_deliveries`) goes to the dead
 * letters; the page says so next to the button, and takes nothing unless asked. Dead letters
 * are read without changing anything.
 */
import type { DeadLetter, InboxStats, WireMessage } from '../api';
import { actionButton, breadcrumb, card, enc, form, link, parseJsonField, section, table, type ViewContext, type ViewHandle } from '../components';
import { fill, h } from '../dom';
import { formatCount, formatRate, formatTimestamp, previewJson } from '../format';
import { inboxPath, type View } from '../routes';

/** The lease of "Get messages": long enough to nack, short enough that a closed tab gives them back soon. */
const PEEK_LEASE_MS = 5_000;
const PEEK_MAX = 20;
const DEAD_LETTERS_SHOWN = 100;

type InboxView = Extract<View, { name: 'queue' | 'subscription' }>;

export function inboxView(ctx: ViewContext, view: InboxView): ViewHandle {
  const path = inboxPath(view);
  const isQueue = view.name === 'queue';
  const name = isQueue ? view.queue : view.subscription;
  const kind = isQueue ? 'Queue' : 'Subscription';
  const rateKey = (field: string) => `inbox:${path}:${field}`;
  const publishPath = isQueue ? `${path}/messages` : `/v1/exchanges/${enc(view.exchange)}/topics/${enc(view.topic)}/messages`;

  const cards = h('div', { class: 'cards' });
  const options = h('p', { class: 'options' });
  const peeked = h('div', { class: 'peeked' });
  const deadLetterTable = h('div');
  const deadLetterNote = h('p', { class: 'hint' });
  const selected = new Set<string>();
  let shownDeadLetters: DeadLetter[] = [];

  const publish = form(ctx, {
    name: 'publish',
    fields: [
      { name: 'payload', label: 'Payload (JSON)', type: 'textarea', value: '{"hello": "from the web page"}', required: true },
      { name: 'headers', label: 'Headers (JSON object, optional)', type: 'text', placeholder: '{"source": "ui"}' },
      { name: 'id', label: 'Message id (optional: makes a retry idempotent)', type: 'text', placeholder: 'generated' },
    ],
    submit: isQueue ? 'Publish' : `Publish to topic ${view.topic}`,
    action: async (values) => {
      const body: Record<string, unknown> = { payload: parseJsonField(values.payload ?? '', 'Payload') };
      if (values.headers) body.headers = parseJsonField(values.headers, 'Headers');
      if (values.id) body.id = values.id;
      const answer = await ctx.api.post<{ ids: string[]; duplicates?: number }>(publishPath, body);
      const id = answer.ids[0] ?? '?';
      return answer.duplicates ? `Already published earlier as ${id}: stored once` : `Published ${id}`;
    },
  });

  const peekedPanel = section('Messages got and given back', peeked);
  peekedPanel.hidden = true;

  const peekForm = form(ctx, {
    name: 'peek',
    inline: true,
    fields: [{ name: 'count', label: 'Messages', type: 'number', value: '5' }],
    submit: 'Get messages',
    action: async (values) => {
      const count = Math.min(PEEK_MAX, Math.max(1, Number(values.count) || 1));
      const answer = await ctx.api.get<{ messages: WireMessage[] }>(`${path}/messages?max=${count}&lease_ms=${PEEK_LEASE_MS}`);
      const ids = answer.messages.map((message) => message.id);
      let note = `Got ${ids.length} message(s) and gave them back (nack, requeue)`;
      if (ids.length > 0) {
        try {
          await ctx.api.post(`${path}/nack`, { ids, requeue: true });
        } catch (error) {
          note = `Got ${ids.length} message(s) but could not give them back; they return when their ${PEEK_LEASE_MS / 1000} s lease ends`;
          showPeeked(answer.messages);
          throw error;
        }
      }
      showPeeked(answer.messages);
      return note;
    },
  });

  function showPeeked(messages: WireMessage[]): void {
    peekedPanel.hidden = false;
    fill(
      peeked,
      h('p', { class: 'hint' }, `As they were at ${new Date().toLocaleTimeString([], { hour12: false })}, when they were got and given back; not refreshed.`),
      table(
        [
          { title: 'Id', field: 'id', cell: (m) => h('code', null, m.id) },
          { title: 'Deliveries', numeric: true, cell: (m) => String(m.deliveries) },
          { title: 'Published', field: 'published_at', cell: (m) => formatTimestamp(m.published_at) },
          { title: 'Headers', cell: (m) => (Object.keys(m.headers).length ? h('code', null, previewJson(m.headers, 60)) : h('span', { class: 'muted' }, 'none')) },
          { title: 'Payload', cell: (m) => payloadCell(m.payload) },
        ],
        messages,
        { empty: 'No ready message to show.', key: (m) => m.id },
      ),
    );
  }

  const purge = actionButton(
    ctx,
    'Purge',
    async () => {
      const answer = await ctx.api.post<{ purged: number }>(`${path}/purge`);
      return `Purged ${formatCount(answer.purged)} ready message(s)`;
    },
    { variant: 'danger', name: 'purge', confirm: `Purge ${kind.toLowerCase()} ${name}? Its ready messages are deleted (leased ones stay with their consumers; dead letters stay).` },
  );

  const remove = actionButton(
    ctx,
    `Delete ${kind.toLowerCase()}`,
    async () => {
      await ctx.api.delete(path);
      ctx.navigate({ name: 'exchange', exchange: view.exchange });
      return `${kind} ${name} deleted`;
    },
    { variant: 'danger', name: 'delete-inbox', confirm: `Delete ${kind.toLowerCase()} ${name} and every message in it?` },
  );

  const selectedIds = (): string[] => shownDeadLetters.map((d) => d.id).filter((id) => selected.has(id));
  const requireSelection = (): string[] => {
    const ids = selectedIds();
    if (ids.length === 0) throw new Error('Select dead letters first (the boxes on the left), or use the "all" buttons');
    return ids;
  };
  const deadLetterActions = h(
    'div',
    { class: 'button-row' },
    actionButton(
      ctx,
      'Redrive selected',
      async () => {
        const answer = await ctx.api.post<{ redriven: number }>(`${path}/dead-letters/redrive`, { ids: requireSelection() });
        selected.clear();
        return `Redrove ${formatCount(answer.redriven)} dead letter(s): they are ready again`;
      },
      { variant: 'primary', name: 'redrive-selected' },
    ),
    actionButton(
      ctx,
      'Redrive all',
      async () => {
        const answer = await ctx.api.post<{ redriven: number }>(`${path}/dead-letters/redrive`, {});
        selected.clear();
        return `Redrove ${formatCount(answer.redriven)} dead letter(s): they are ready again`;
      },
      { name: 'redrive-all' },
    ),
    actionButton(
      ctx,
      'Delete selected',
      async () => {
        const answer = await ctx.api.delete<{ deleted: number }>(`${path}/dead-letters`, { ids: requireSelection() });
        selected.clear();
        return `Deleted ${formatCount(answer.deleted)} dead letter(s)`;
      },
      { variant: 'danger', name: 'delete-selected', confirm: 'Delete the selected dead letters for good?' },
    ),
    actionButton(
      ctx,
      'Delete all',
      async () => {
        const answer = await ctx.api.delete<{ deleted: number }>(`${path}/dead-letters`);
        selected.clear();
        return `Deleted ${formatCount(answer.deleted)} dead letter(s)`;
      },
      { variant: 'danger', name: 'delete-all', confirm: `Delete every dead letter of ${name} for good?` },
    ),
  );

  const crumbs = isQueue
    ? breadcrumb(link({ name: 'overview' }, 'Overview'), link({ name: 'exchange', exchange: view.exchange }, view.exchange), h('span', null, view.queue))
    : breadcrumb(link({ name: 'overview' }, 'Overview'), link({ name: 'exchange', exchange: view.exchange }, view.exchange), h('span', null, view.topic), h('span', null, view.subscription));

  const root = h(
    'div',
    { class: 'view inbox' },
    crumbs,
    h('div', { class: 'view-head' }, h('h1', null, h('span', { class: 'kind' }, kind), ' ', name), h('div', { class: 'head-actions' }, purge, remove)),
    cards,
    options,
    h(
      'div',
      { class: 'columns' },
      section(isQueue ? 'Publish a test message' : 'Publish to the topic', isQueue ? null : h('p', { class: 'hint' }, `Every subscription of ${view.topic} gets it.`), publish),
      section(
        'Get messages',
        h(
          'p',
          { class: 'hint' },
          `Takes up to ${PEEK_MAX} ready messages with a ${PEEK_LEASE_MS / 1000}-second lease and gives them back at once (nack with requeue). `,
          h('strong', null, 'This counts a delivery'),
          ': each message’s deliveries go up by one, it comes back ahead of the others, and one on its last allowed delivery (max deliveries) moves to the dead letters. It needs consume. Dead letters below are read without taking anything.',
        ),
        peekForm,
      ),
    ),
    peekedPanel,
    section('Dead letters', deadLetterNote, deadLetterTable, deadLetterActions),
  );

  async function refresh(): Promise<void> {
    const now = Date.now();
    const [stats, dead] = await Promise.all([ctx.api.get<InboxStats>(path), ctx.api.get<{ dead_letters: DeadLetter[] }>(`${path}/dead-letters?max=${DEAD_LETTERS_SHOWN}`)]);
    const rate = (field: 'depth' | 'in_flight' | 'dead_letters') => ctx.rates.sample(rateKey(field), stats[field], now);
    const readyRate = rate('depth');
    const inFlightRate = rate('in_flight');
    const deadRate = rate('dead_letters');
    fill(
      cards,
      card('Ready', formatCount(stats.depth), { field: 'depth', sub: formatRate(readyRate) }),
      card('In flight', formatCount(stats.in_flight), { field: 'in_flight', sub: formatRate(inFlightRate) }),
      card('Dead letters', formatCount(stats.dead_letters), { field: 'dead_letters', sub: formatRate(deadRate), tone: stats.dead_letters > 0 ? 'warn' : undefined }),
      card('Partition', String(stats.partition), { field: 'partition' }),
      card('Leader', stats.leader ?? 'none', { field: 'leader', tone: stats.leader ? undefined : 'bad' }),
    );
    const set = Object.entries(stats.options ?? {}).filter(([, value]) => value !== null && value !== undefined);
    const optionText = set.map(([key, value]) => `${key} ${String(value)}`).join(' · ');
    fill(options, optionText ? ['Options: ', h('code', null, optionText)] : null);

    shownDeadLetters = dead.dead_letters;
    deadLetterActions.hidden = stats.dead_letters === 0 && shownDeadLetters.length === 0;
    const present = new Set(shownDeadLetters.map((d) => d.id));
    for (const id of [...selected]) if (!present.has(id)) selected.delete(id);
    fill(
      deadLetterNote,
      stats.dead_letters > shownDeadLetters.length
        ? `Showing the first ${formatCount(shownDeadLetters.length)} of ${formatCount(stats.dead_letters)}; redrive or delete them to see the rest (the "all" buttons act on every one).`
        : 'Messages that failed their allowed deliveries, were nacked without requeue, or expired. Redrive makes them ready again with their deliveries reset.',
    );
    fill(
      deadLetterTable,
      table(
        [
          {
            title: '',
            cell: (d) => {
              const box = h('input', { type: 'checkbox', 'aria-label': `select ${d.id}`, 'data-id': d.id });
              box.checked = selected.has(d.id);
              box.addEventListener('change', () => (box.checked ? selected.add(d.id) : selected.delete(d.id)));
              return box;
            },
          },
          { title: 'Id', field: 'id', cell: (d) => h('code', null, d.id) },
          { title: 'Reason', field: 'reason', cell: (d) => h('span', { class: 'badge warn' }, d.reason) },
          { title: 'Deliveries', numeric: true, cell: (d) => String(d.deliveries) },
          { title: 'Published', field: 'published_at', cell: (d) => formatTimestamp(d.published_at) },
          { title: 'Payload', cell: (d) => payloadCell(d.payload) },
        ],
        shownDeadLetters,
        { empty: 'No dead letters.', key: (d) => d.id },
      ),
    );
  }

  return { title: `${kind} ${name}`, root, refresh };
}

function payloadCell(payload: unknown): HTMLElement {
  return h('code', { class: 'payload', title: previewJson(payload, 2000) }, previewJson(payload, 100));
}
