import type { LogEntry, StoredEntry } from '../core/entries';
import { OFFSET_BITS } from './schema';

/** A log row as stored: publishes keep their message fields in columns, other entries in `data`. */
export interface LogRow {
  k: number;
  epoch: number;
  type: string;
  data: string | null;
  target: number | null;
  msg_id: string | null;
  headers: string | null;
  ts: number | null;
  payload: string | null;
}

export const PUBLISH_QUEUE = 'publish.queue';
export const PUBLISH_TOPIC = 'publish.topic';

interface PublishData {
  exchange: string;
  name: string;
  producerId?: string;
}

export function entryToRow(partition: number, offset: number, epoch: number, entry: LogEntry, target: number | null): LogRow {
  const k = partition * OFFSET_BITS + offset;
  if (entry.type === 'publish') {
    return {
      k,
      epoch,
      type: entry.target === 'queue' ? PUBLISH_QUEUE : PUBLISH_TOPIC,
      data: publishData(entry.exchange, entry.name, entry.message.producerId),
      target,
      msg_id: entry.message.id,
      headers: entry.message.headers ?? null,
      ts: entry.message.publishedAt,
      payload: entry.message.payload,
    };
  }
  return { k, epoch, type: entry.type, data: JSON.stringify(entry), target, msg_id: null, headers: null, ts: null, payload: null };
}

export function rowToEntry(row: LogRow): StoredEntry {
  const offset = row.k % OFFSET_BITS;
  if (row.type === PUBLISH_QUEUE || row.type === PUBLISH_TOPIC) {
    const data = JSON.parse(row.data ?? '{}') as PublishData;
    return {
      offset,
      epoch: row.epoch,
      entry: {
        type: 'publish',
        target: row.type === PUBLISH_QUEUE ? 'queue' : 'topic',
        exchange: data.exchange,
        name: data.name,
        message: {
          id: row.msg_id ?? '',
          producerId: data.producerId,
          payload: row.payload ?? 'null',
          headers: row.headers ?? undefined,
          publishedAt: row.ts ?? 0,
        },
      },
    };
  }
  return { offset, epoch: row.epoch, entry: JSON.parse(row.data ?? '{}') as LogEntry };
}

let lastTarget = { exchange: '', name: '', json: '' };

/** `{"exchange","name"}` of consecutive publishes to one target is built once. */
function publishData(exchange: string, name: string, producerId: string | undefined): string {
  if (producerId !== undefined) return JSON.stringify({ exchange, name, producerId } satisfies PublishData);
  if (lastTarget.exchange !== exchange || lastTarget.name !== name) {
    lastTarget = { exchange, name, json: JSON.stringify({ exchange, name } satisfies PublishData) };
  }
  return lastTarget.json;
}
