import type { DeadLetterRow } from '../../store/node-store';
import type { DeliveredMessage } from './engine/partition-engine';

/**
 * Pull responses are written by hand: stored payload and header text goes out as it is,
 * without being parsed and serialized again (the pull path's largest cost otherwise).
 */
export function messageJson(message: DeliveredMessage): string {
  return (
    `{"id":${JSON.stringify(message.msg_id)},"payload":${message.payload},"headers":${message.headers ?? '{}'},` +
    `"published_at":"${new Date(message.ts).toISOString()}","deliveries":${message.deliveries}}`
  );
}

export function messagesJson(messages: DeliveredMessage[]): string {
  let out = '{"messages":[';
  for (let i = 0; i < messages.length; i++) {
    if (i > 0) out += ',';
    out += messageJson(messages[i]!);
  }
  return `${out}]}`;
}

export function deadLettersJson(rows: DeadLetterRow[]): string {
  const items = rows.map(
    (row) =>
      `{"id":${JSON.stringify(row.msg_id)},"payload":${row.payload},"headers":${row.headers ?? '{}'},` +
      `"published_at":"${new Date(row.ts).toISOString()}","deliveries":${row.failures},"reason":${JSON.stringify(row.dead_reason ?? 'rejected')},"cursor":${row.offset}}`,
  );
  return `{"dead_letters":[${items.join(',')}]}`;
}
