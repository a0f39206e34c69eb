/**
 * A tiny way to build the page's elements from script: `h('td', { class: 'num' }, '42')`.
 * Text always goes in as text (never parsed as HTML), so names and payloads from the broker
 * cannot inject markup; and no inline style or handler attributes exist (the CSP forbids them):
 * `on: { click }` adds listeners.
 */
export type Child = Node | string | number | null | undefined | false | readonly Child[];

export interface Attrs {
  class?: string;
  on?: { [K in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[K]) => void };
  [attribute: string]: string | number | boolean | undefined | Attrs['on'];
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (name === 'on') {
        for (const [event, listener] of Object.entries(value as NonNullable<Attrs['on']>)) {
          element.addEventListener(event, listener as EventListener);
        }
      } else if (value === true) {
        element.setAttribute(name, '');
      } else if (value !== false && value !== undefined) {
        element.setAttribute(name, String(value));
      }
    }
  }
  append(element, children);
  return element;
}

function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : (child as Node));
  }
}

/** Replaces an element's children. */
export function fill(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}
