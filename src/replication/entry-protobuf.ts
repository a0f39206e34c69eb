import type { StoredEntry } from '../core/entries';
import { entryToRow, rowToEntry } from '../store/log-row-codec';
import type { Entry } from '../gen/mom/replication/v1/replication';

/** Generated proto types stop here: the rest of the code sees StoredEntry (STYLE §1). */
export function toWireEntry(partition: number, stored: StoredEntry): Entry {
  const row = entryToRow(partition, stored.offset, stored.epoch, stored.entry, null);
  return {
    offset: stored.offset,
    epoch: stored.epoch,
    type: row.type,
    data: row.data ?? '',
    msgId: row.msg_id ?? '',
    headers: row.headers ?? '',
    hasHeaders: row.headers !== null,
    ts: row.ts ?? 0,
    payload: row.payload ?? '',
  };
}

export function fromWireEntry(entry: Entry): StoredEntry {
  const isPublish = entry.type.startsWith('publish.');
  return rowToEntry({
    k: entry.offset,
    epoch: entry.epoch,
    type: entry.type,
    data: entry.data,
    target: null,
    msg_id: isPublish ? entry.msgId : null,
    headers: entry.hasHeaders ? entry.headers : null,
    ts: isPublish ? entry.ts : null,
    payload: isPublish ? entry.payload : null,
  });
}
