/**
 * The page's views and their addresses after `#`: the view survives a reload (which logs out:
 * the token lives in memory only) and never carries a secret. Pure.
 */
export type View =
  | { name: 'overview' }
  | { name: 'exchange'; exchange: string }
  | { name: 'queue'; exchange: string; queue: string }
  | { name: 'subscription'; exchange: string; topic: string; subscription: string }
  | { name: 'users' }
  | { name: 'unknown'; hash: string };

export function parseHash(hash: string): View {
  const path = hash.replace(/^#/, '');
  if (path === '' || path === '/') return { name: 'overview' };
  let parts: string[];
  try {
    parts = path.replace(/^\//, '').split('/').map((part) => decodeURIComponent(part));
  } catch {
    return { name: 'unknown', hash };
  }
  if (parts.length === 1 && parts[0] === 'users') return { name: 'users' };
  if (parts[0] !== 'exchanges' || !parts[1]) return { name: 'unknown', hash };
  const exchange = parts[1];
  if (parts.length === 2) return { name: 'exchange', exchange };
  if (parts.length === 4 && parts[2] === 'queues' && parts[3]) return { name: 'queue', exchange, queue: parts[3] };
  if (parts.length === 6 && parts[2] === 'topics' && parts[3] && parts[4] === 'subscriptions' && parts[5]) {
    return { name: 'subscription', exchange, topic: parts[3], subscription: parts[5] };
  }
  return { name: 'unknown', hash };
}

export function hashOf(view: View): string {
  const e = encodeURIComponent;
  switch (view.name) {
    case 'overview':
      return '#/';
    case 'users':
      return '#/users';
    case 'exchange':
      return `#/exchanges/${e(view.exchange)}`;
    case 'queue':
      return `#/exchanges/${e(view.exchange)}/queues/${e(view.queue)}`;
    case 'subscription':
      return `#/exchanges/${e(view.exchange)}/topics/${e(view.topic)}/subscriptions/${e(view.subscription)}`;
    case 'unknown':
      return view.hash;
  }
}

/** The API path of a queue or a subscription (an inbox), from the /v1 root. */
export function inboxPath(view: Extract<View, { name: 'queue' | 'subscription' }>): string {
  const e = encodeURIComponent;
  return view.name === 'queue'
    ? `/v1/exchanges/${e(view.exchange)}/queues/${e(view.queue)}`
    : `/v1/exchanges/${e(view.exchange)}/topics/${e(view.topic)}/subscriptions/${e(view.subscription)}`;
}
