import type Database from 'better-sqlite3';
import { QUEUE_INBOX_PREFIX, type LogEntry } from '../core/entries';
import type { Catalog } from './catalog';
import { OFFSET_BITS } from './schema';
import type { ApplyEffect } from './state-applier';

/**
 * Log offsets one background pass looks at per partition. A pass runs on the event loop and
 * costs about 1-2 µs per offset, so the window bounds the pause it causes (20,000 offsets
 * once a second stalled a busy node for 20-40 ms); passes every 100 ms (the node's
 * maintenance interval) still cover 30,000 offsets a second.
 */
const COMPACT_WINDOW = 3_000;

/**
 * Compaction (DESIGN §3): log entries whose effect is over go away — publishes whose message is
 * settled everywhere, topic messages past retention that no subscription holds, settles and
 * repairs once no publish they act on is left, epoch starts — and expired dedup ids. The log
 * that remains, replayed from its start, rebuilds the same inboxes. Runs inside the caller's
 * transaction.
 */
export class Compactor {
  private readonly cursors = new Map<number, number>();
  private readonly stmt: Record<
    | 'expireDedup'
    | 'deleteLogRow'
    | 'resolveQueueTargets'
    | 'resolveTopicTargets'
    | 'compactEpochStarts'
    | 'compactSettles'
    | 'compactInboxRepairs'
    | 'compactQueueMessages'
    | 'compactTopicMessages'
    | 'expireTopicMessages',
    Database.Statement
  >;

  constructor(
    db: Database.Database,
    private readonly catalog: Catalog,
  ) {
    this.stmt = {
      expireDedup: db.prepare('DELETE FROM dedup WHERE ts < ?'),
      deleteLogRow: db.prepare('DELETE FROM log WHERE k = ?'),
      // A publish replicated in the same batch as its queue's declaration was stored before the
      // queue existed here, without a target: resolved by name once applied, before compaction.
      resolveQueueTargets: db.prepare(
        `UPDATE log SET target = (SELECT id FROM inboxes WHERE inbox_key = ? || json_extract(log.data, '$.exchange') || '/' || json_extract(log.data, '$.name'))
         WHERE k >= ? AND k < ? AND type = 'publish.queue' AND target IS NULL`,
      ),
      resolveTopicTargets: db.prepare(
        `UPDATE log SET target = (SELECT id FROM topics WHERE exchange = json_extract(log.data, '$.exchange') AND name = json_extract(log.data, '$.name'))
         WHERE k >= ? AND k < ? AND type = 'publish.topic' AND target IS NULL`,
      ),
      // An epoch start has no effect on the derived tables; its offset lives on in `epochs`.
      compactEpochStarts: db.prepare("DELETE FROM log WHERE k >= ? AND k < ? AND type = 'epoch.start'"),
      // A settle (and a redrive or deletion of listed dead letters) goes only once none of the
      // publish entries it settles is left in the log: a replica that copies the log from its
      // start (a new or rebuilt one) must never get a publish without what settled it, or it
      // would deliver acked messages again and forget dead letters' failures.
      compactSettles: db.prepare(
        `DELETE FROM log WHERE k >= ? AND k < ? AND type IN ('settle', 'dead_letters.redrive', 'dead_letters.delete')
         AND json_type(log.data, '$.messages') = 'array'
         AND NOT EXISTS (SELECT 1 FROM json_each(log.data, '$.messages') AS settled JOIN log AS published ON published.k = ? + settled.value)`,
      ),
      // A purge or a deletion of all dead letters goes once every earlier publish entry of its
      // inbox left in the log is still pending there (so it did not remove it); a redrive of all
      // dead letters once no earlier publish entry of its inbox is left (what it redrove is still
      // pending). Same reason as above. The scan stops at the first entry that keeps it, and
      // these entries are rare (an operator's repair).
      compactInboxRepairs: db.prepare(
        `DELETE FROM log WHERE k >= ? AND k < ? AND type IN ('inbox.purge', 'dead_letters.redrive', 'dead_letters.delete')
         AND (type = 'inbox.purge' OR json_type(log.data, '$.messages') = 'null')
         AND NOT EXISTS (SELECT 1 FROM inboxes JOIN log AS published
                           ON (published.type = 'publish.queue' AND published.target = inboxes.id)
                           OR (published.type = 'publish.topic' AND published.target = inboxes.topic_id)
                         WHERE inboxes.inbox_key = json_extract(log.data, '$.inbox') AND published.k >= ? AND published.k < log.k
                           AND (log.type = 'dead_letters.redrive'
                                OR NOT EXISTS (SELECT 1 FROM pending WHERE pending.inbox = inboxes.id AND pending.msg = published.k - ?)))`,
      ),
      compactQueueMessages: db.prepare(
        `DELETE FROM log WHERE k >= ? AND k < ? AND type = 'publish.queue' AND target IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM pending WHERE pending.inbox = log.target AND pending.msg = log.k - ?)`,
      ),
      compactTopicMessages: db.prepare(
        `DELETE FROM log WHERE k >= ? AND k < ? AND type = 'publish.topic' AND target IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM topic_messages WHERE topic_messages.topic = log.target AND topic_messages.msg = log.k - ?)
         AND NOT EXISTS (SELECT 1 FROM pending JOIN inboxes ON inboxes.id = pending.inbox
                         WHERE inboxes.topic_id = log.target AND pending.msg = log.k - ?)`,
      ),
      expireTopicMessages: db.prepare('DELETE FROM topic_messages WHERE topic = ? AND msg >= ? AND msg < ? AND ts < ?'),
    };
  }

  /**
   * Compaction at apply time, for a partition no other replica reads from: an ack that
   * settled a queue message removes the message's publish entry and the ack itself at once,
   * a few microseconds in the same transaction instead of a sweep later.
   */
  compactApplied(partition: number, firstOffset: number, entries: readonly LogEntry[], effects: readonly ApplyEffect[]): void {
    const base = partition * OFFSET_BITS;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      const effect = effects[effects.length - entries.length + i];
      if (entry.type !== 'settle' || entry.outcome !== 'ack' || effect?.kind !== 'settled') continue;
      if (this.catalog.inboxesById.get(effect.inbox)?.kind !== 'queue') continue;
      for (const result of effect.results) if (result.state === 'gone') this.stmt.deleteLogRow.run(base + result.offset);
      this.stmt.deleteLogRow.run(base + firstOffset + i);
    }
  }

  /**
   * One background pass over a window of offsets in [logStart, limit) that moves on each time
   * and wraps around, so each pass does bounded work. Returns the number of log rows removed.
   */
  compact(partition: number, logStart: number, limit: number, now: number): number {
    let from = this.cursors.get(partition) ?? logStart;
    if (from >= limit) from = logStart;
    const to = Math.min(limit, from + COMPACT_WINDOW);
    this.cursors.set(partition, to);
    const base = partition * OFFSET_BITS;
    const lo = base + from;
    const hi = base + to;
    if (hi <= lo) return 0;
    for (const topic of this.catalog.topicsById.values()) {
      if (topic.partition === partition) this.stmt.expireTopicMessages.run(topic.id, from, to, now - topic.options.retention_ms);
    }
    this.stmt.resolveQueueTargets.run(QUEUE_INBOX_PREFIX, lo, hi);
    this.stmt.resolveTopicTargets.run(lo, hi);
    // Publishes first: a settle in the same window can then go in the same pass as its message.
    return (
      this.stmt.compactQueueMessages.run(lo, hi, base).changes +
      this.stmt.compactTopicMessages.run(lo, hi, base, base).changes +
      this.stmt.compactEpochStarts.run(lo, hi).changes +
      this.stmt.compactSettles.run(lo, hi, base).changes +
      this.stmt.compactInboxRepairs.run(lo, hi, base, base).changes
    );
  }

  expireDedup(olderThan: number): number {
    return this.stmt.expireDedup.run(olderThan).changes;
  }
}
