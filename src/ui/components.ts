/** The page's building blocks: sections, cards, tables, forms, buttons that run an action. */
import { ApiError, type Api, type Session } from './api';
import { h, type Child } from './dom';
import { formatCount, formatRate } from './format';
import type { RateTracker } from './rates';
import { hashOf, type View } from './routes';

/** What a view gets from the page around it. */
export interface ViewContext {
  api: Api;
  session: Session;
  rates: RateTracker;
  /** A result or an error at the top of the view, until the next one or a view change. */
  flash(kind: 'ok' | 'error', text: string): void;
  /** Refreshes the view now (after an action changed something). */
  refreshNow(): void;
  navigate(view: View): void;
}

/** A view: its element, and a refresh the page calls every few seconds (its errors are shown). */
export interface ViewHandle {
  title: string;
  root: HTMLElement;
  refresh(): Promise<void>;
}

/** The page's icon (the favicon the build named), as an image. */
export function logo(): HTMLElement {
  const icon = document.querySelector<HTMLLinkElement>('link[rel="icon"]')?.href;
  return icon ? h('img', { class: 'logo', src: icon, alt: '', width: 24, height: 24 }) : h('span', { class: 'logo' });
}

export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.describe();
  return error instanceof Error ? error.message : String(error);
}

export function link(view: View, ...children: Child[]): HTMLAnchorElement {
  return h('a', { href: hashOf(view) }, ...children);
}

export function breadcrumb(...items: Child[]): HTMLElement {
  const parts: Child[] = [];
  items.forEach((item, i) => {
    if (i > 0) parts.push(h('span', { class: 'sep', 'aria-hidden': 'true' }, '›'));
    parts.push(item);
  });
  return h('nav', { class: 'breadcrumb', 'aria-label': 'breadcrumb' }, ...parts);
}

export function section(title: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'panel' }, h('h2', null, title), ...children);
}

/** A figure with a label, and a rate below it when there is one. */
export function card(label: string, value: string, options: { field?: string; sub?: string; tone?: 'warn' | 'bad' } = {}): HTMLElement {
  return h(
    'div',
    { class: `card${options.tone ? ` ${options.tone}` : ''}` },
    h('div', { class: 'card-label' }, label),
    h('div', { class: 'card-value', 'data-field': options.field }, value),
    options.sub !== undefined ? h('div', { class: 'card-sub' }, options.sub) : null,
  );
}

export interface Column<Row> {
  title: string;
  numeric?: boolean;
  field?: string;
  cell(row: Row): Child;
}

export function table<Row>(columns: Array<Column<Row>>, rows: readonly Row[], options: { empty: string; key?: (row: Row) => string; rowClass?: (row: Row) => string | undefined }): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, options.empty);
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      null,
      h('thead', null, h('tr', null, ...columns.map((column) => h('th', { class: column.numeric ? 'num' : undefined }, column.title)))),
      h(
        'tbody',
        null,
        ...rows.map((row) =>
          h(
            'tr',
            { 'data-name': options.key?.(row), class: options.rowClass?.(row) },
            ...columns.map((column) => h('td', { class: column.numeric ? 'num' : undefined, 'data-field': column.field }, column.cell(row))),
          ),
        ),
      ),
    ),
  );
}

/** A count with its rate of change from the page's polls (`12` and `+3/s`). */
export function countWithRate(rates: RateTracker, key: string, value: number): Child {
  const rate = rates.rate(key);
  return [h('span', { class: 'count' }, formatCount(value)), rate !== undefined && Math.abs(rate) >= 0.005 ? h('span', { class: `rate ${rate > 0 ? 'up' : 'down'}` }, formatRate(rate)) : null];
}

export function badge(text: string, tone: 'ok' | 'warn' | 'bad' | 'info' = 'info'): HTMLElement {
  return h('span', { class: `badge ${tone}` }, text);
}

/**
 * A button that runs `action` once per click: disabled while it runs, its error flashed (the
 * API's message as it came), its success message flashed, and the view refreshed after.
 */
export function actionButton(ctx: ViewContext, label: string, action: () => Promise<string | undefined>, options: { variant?: 'primary' | 'danger' | 'plain'; confirm?: string; name?: string } = {}): HTMLButtonElement {
  const button = h('button', { type: 'button', class: `btn ${options.variant ?? 'plain'}`, 'data-action': options.name }, label);
  button.addEventListener('click', () => {
    if (options.confirm !== undefined && !window.confirm(options.confirm)) return;
    void runAction(ctx, button, action);
  });
  return button;
}

export async function runAction(ctx: ViewContext, button: HTMLButtonElement, action: () => Promise<string | undefined>): Promise<void> {
  if (button.disabled) return;
  button.disabled = true;
  try {
    const done = await action();
    if (done !== undefined) ctx.flash('ok', done);
  } catch (error) {
    ctx.flash('error', describeError(error));
  } finally {
    button.disabled = false;
    ctx.refreshNow();
  }
}

export interface FieldSpec {
  name: string;
  label: string;
  type?: 'text' | 'number' | 'password' | 'textarea' | 'select';
  placeholder?: string;
  value?: string;
  required?: boolean;
  options?: string[];
  hint?: string;
}

/**
 * A form whose submit runs `action` with the fields' values (never submitted natively: the CSP
 * says `form-action 'none'`).
 */
export function form(ctx: ViewContext, options: { name: string; fields: FieldSpec[]; submit: string; action: (values: Record<string, string>) => Promise<string | undefined>; inline?: boolean }): HTMLFormElement {
  const inputs = new Map<string, HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>();
  const rows = options.fields.map((field) => {
    let input: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;
    const common = { name: field.name, id: `${options.name}-${field.name}`, placeholder: field.placeholder, required: field.required === true };
    if (field.type === 'textarea') {
      input = h('textarea', { ...common, rows: 4, spellcheck: 'false' });
      input.value = field.value ?? '';
    } else if (field.type === 'select') {
      input = h('select', { name: field.name, id: common.id }, ...(field.options ?? []).map((option) => h('option', { value: option }, option)));
      if (field.value !== undefined) input.value = field.value;
    } else {
      input = h('input', { ...common, type: field.type ?? 'text', autocomplete: 'off', ...(field.type === 'number' ? { min: 0, step: 1 } : {}) });
      input.value = field.value ?? '';
    }
    inputs.set(field.name, input);
    return h('div', { class: 'field' }, h('label', { for: common.id }, field.label), input, field.hint ? h('div', { class: 'hint' }, field.hint) : null);
  });
  const submit = h('button', { type: 'submit', class: 'btn primary' }, options.submit);
  const element = h('form', { class: `form${options.inline ? ' inline' : ''}`, 'data-form': options.name }, ...rows, h('div', { class: 'field actions' }, submit));
  element.addEventListener('submit', (event) => {
    event.preventDefault();
    const values: Record<string, string> = {};
    for (const [name, input] of inputs) values[name] = input.value.trim();
    void runAction(ctx, submit, () => options.action(values));
  });
  return element;
}

/** An optional non-negative integer from a form field (`''` → undefined). */
export function optionalInteger(values: Record<string, string>, name: string, label: string): number | undefined {
  const text = values[name] ?? '';
  if (text === '') return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${label}: a whole number of 0 or more, or empty`);
  return value;
}

/** A JSON value from a form field, with the parse error named. */
export function parseJsonField(text: string, label: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${label} is not JSON: ${(error as Error).message}`);
  }
}

export function enc(name: string): string {
  return encodeURIComponent(name);
}
