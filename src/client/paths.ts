/** URL paths of the client API (DESIGN §8), every name percent-encoded as one segment. */

const segment = encodeURIComponent;

export function exchangePath(exchange: string): string {
  return `/v1/exchanges/${segment(exchange)}`;
}

export function queuePath(exchange: string, queue: string): string {
  return `${exchangePath(exchange)}/queues/${segment(queue)}`;
}

export function topicPath(exchange: string, topic: string): string {
  return `${exchangePath(exchange)}/topics/${segment(topic)}`;
}

export function subscriptionPath(exchange: string, topic: string, subscription: string): string {
  return `${topicPath(exchange, topic)}/subscriptions/${segment(subscription)}`;
}

/** `?a=1&b=x` from the defined values, or '' when there are none. */
export function queryString(query: Record<string, string | number | boolean | undefined> | undefined): string {
  if (query === undefined) return '';
  let text = '';
  for (const key of Object.keys(query)) {
    const value = query[key];
    if (value === undefined) continue;
    text += `${text === '' ? '?' : '&'}${segment(key)}=${segment(String(value))}`;
  }
  return text;
}
