/** What exists on the broker: exchanges, and the queues and topics of one (DESIGN §8). */
import type { ClientContext } from './context';
import { MomClientError } from './errors';
import { exchangePath } from './paths';
import type { ExchangeInfo, QueueListing, TopicListing } from './types';

export async function listExchanges(context: ClientContext): Promise<ExchangeInfo[]> {
  context.assertOpen();
  const response = await context.request<{ exchanges?: unknown }>({ method: 'GET', path: '/v1/exchanges', idempotent: true });
  return list<ExchangeInfo>(response.body?.exchanges, 'exchanges', response.status);
}

/** Every queue of the exchange with its stats, sorted by name. */
export async function listQueues(context: ClientContext, exchange: string): Promise<QueueListing[]> {
  context.assertOpen();
  const response = await context.request<{ queues?: unknown }>({ method: 'GET', path: `${exchangePath(exchange)}/queues`, idempotent: true });
  return list<QueueListing>(response.body?.queues, 'queues', response.status);
}

/** Every topic of the exchange with its subscriptions and their stats, sorted by name. */
export async function listTopics(context: ClientContext, exchange: string): Promise<TopicListing[]> {
  context.assertOpen();
  const response = await context.request<{ topics?: unknown }>({ method: 'GET', path: `${exchangePath(exchange)}/topics`, idempotent: true });
  return list<TopicListing>(response.body?.topics, 'topics', response.status);
}

function list<T>(value: unknown, field: string, status: number): T[] {
  if (!Array.isArray(value)) throw new MomClientError('bad_response', `the answer (${status}) has no "${field}" list`, { status });
  return value as T[];
}
