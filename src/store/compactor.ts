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
 * Compaction (DESIGN §3): log entries whose effect is over go away — applied settles and repairs,
 * publishes whose message is settled everywhere, topic messages past retention that no
 * subscription holds — and expired dedup ids. Runs inside the caller's transaction.
 */
export class Compactor {
  private readonly cursors = new Map<number, number>();
  private readonly stmt: Record<
    | 'expireDedup'
    | 'deleteLogRow'
    | 'resolveQueueTargets'
    | 'resolveTopicTargets'
    | 'compactSettled'
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
      // Entries whose whole effect is in the derived tables once applied: settles, repairs, epoch starts.
      compactSettled: db.prepare(
        "DELETE FROM log WHERE k >= ? AND k < ? AND type IN ('settle', 'epoch.start', 'inbox.purge', 'dead_letters.redrive', 'dead_letters.delete')",
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
    return (
      this.stmt.compactSettled.run(lo, hi).changes +
      this.stmt.compactQueueMessages.run(lo, hi, base).changes +
      this.stmt.compactTopicMessages.run(lo, hi, base, base).changes
    );
  }

  expireDedup(olderThan: number): number {
    return this.stmt.expireDedup.run(olderThan).changes;
  }
}
