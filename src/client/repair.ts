/**
 * Repairs of a queue or a subscription (DESIGN §8): purge, redrive and deletion of dead
 * letters. Each needs `configure` on the exchange. A purge, or a redrive or deletion of every
 * dead letter, is not retried once it may have reached the server: done twice it would also
 * take what arrived in between. With ids, doing it twice changes nothing more.
 */
import type { ClientContext } from './context';
import { MomClientError } from './errors';

/** Removes the ready messages; leased ones stay with their consumers. Resolves how many went. */
export async function purge(context: ClientContext, path: string): Promise<number> {
  context.assertOpen();
  const response = await context.request<{ purged?: unknown }>({ method: 'POST', path: `${path}/purge`, idempotent: false });
  return count(response.body?.purged, 'purged', response.status);
}

/** Makes dead letters deliverable again, their deliveries counted afresh (`ids` omitted: all). Resolves how many. */
export async function redrive(context: ClientContext, path: string, ids?: readonly string[]): Promise<number> {
  context.assertOpen();
  const response = await context.request<{ redriven?: unknown }>({
    method: 'POST',
    path: `${path}/dead-letters/redrive`,
    body: selection(ids),
    idempotent: ids !== undefined,
  });
  return count(response.body?.redriven, 'redriven', response.status);
}

/** Deletes dead letters (`ids` omitted: all). Resolves how many. */
export async function deleteDeadLetters(context: ClientContext, path: string, ids?: readonly string[]): Promise<number> {
  context.assertOpen();
  const response = await context.request<{ deleted?: unknown }>({ method: 'DELETE', path: `${path}/dead-letters`, body: selection(ids), idempotent: ids !== undefined });
  return count(response.body?.deleted, 'deleted', response.status);
}

function selection(ids: readonly string[] | undefined): string | undefined {
  if (ids === undefined) return undefined;
  if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string')) throw new MomClientError('invalid_argument', 'ids: expected an array of message id strings');
  return JSON.stringify({ ids });
}

function count(value: unknown, field: string, status: number): number {
  if (typeof value !== 'number') throw new MomClientError('bad_response', `the answer (${status}) has no "${field}" count`, { status });
  return value;
}
