import type Database from 'better-sqlite3';
import {
  DEFAULT_QUEUE_OPTIONS,
  queueInboxKey,
  subscriptionInboxKey,
  targetKey,
  type LogEntry,
  type PublishedMessage,
  type QueueOptions,
  type RepairEntry,
} from '../core/entries';
import { repairPlan, retainedSince, settleStep, type RepairPlan } from '../core/state-machine';
import type { Catalog, InboxRecord, TopicRecord } from './catalog';

/** What applying one entry changed, for the leader's in-memory delivery state. */
export type ApplyEffect =
  | { kind: 'none' }
  | { kind: 'inbox_created'; inbox: InboxRecord }
  | { kind: 'inbox_deleted'; inbox: InboxRecord }
  /** `inboxes`: those the message became pending in. */
  | { kind: 'published'; offset: number; inboxes: number[]; message: PublishedMessage }
  | { kind: 'settled'; inbox: number; results: SettleResult[] }
  | { kind: 'purged'; inboxes: InboxRecord[] }
  /**
   * A repair entry at `offset` (purge, redrive, dead-letter deletion) acted on `count` messages
   * of the inbox (null: it is gone, and the count 0): they left state `from`; `ready` lists
   * the ones made deliverable again.
   */
  | { kind: 'repaired'; offset: number; inbox: number | null; from: RepairPlan['from']; count: number; ready: number[] };

export interface SettleResult {
  /** The settled message's offset. */
  offset: number;
  /** gone: acked or unknown; ready: deliverable again; dead: moved to dead letters. */
  state: 'gone' | 'ready' | 'dead';
  failures: number;
  /** False when the message was not pending (acked before, purged, or already dead): nothing changed. */
  changed: boolean;
}

const NONE: ApplyEffect = { kind: 'none' };

/**
 * Applies log entries to the derived tables (DESIGN §3). Deterministic: the same entries in
 * the same order give the same rows on every replica; wall-clock time enters only through
 * timestamps carried inside entries. Every derived row records the offset that produced it.
 * Runs inside the caller's transaction.
 */
export class StateApplier {
  private readonly insertTopic: Database.Statement;
  private readonly deleteTopic: Database.Statement;
  private readonly insertInbox: Database.Statement;
  private readonly deleteInbox: Database.Statement;
  private readonly insertPending: Database.Statement;
  private readonly deletePending: Database.Statement;
  private readonly selectPending: Database.Statement;
  private readonly updatePending: Database.Statement;
  private readonly deleteInboxPending: Database.Statement;
  private readonly insertTopicMessage: Database.Statement;
  private readonly deleteTopicMessages: Database.Statement;
  private readonly copyRetainedToInbox: Database.Statement;
  private readonly upsertDedup: Database.Statement;
  /** Repair plans in SQL, by what they do: `${to}/${only ? 'only' : 'all'}` (see repairPlan). */
  private readonly repairs: Record<'gone/all' | 'gone/only' | 'ready/all' | 'ready/only', Database.Statement>;

  constructor(db: Database.Database, private readonly catalog: Catalog) {
    this.insertTopic = db.prepare('INSERT INTO topics (p, exchange, name, options, created_at, off) VALUES (?, ?, ?, ?, ?, ?)');
    this.deleteTopic = db.prepare('DELETE FROM topics WHERE id = ?');
    this.insertInbox = db.prepare(
      'INSERT INTO inboxes (p, inbox_key, kind, exchange, name, topic_id, options, created_at, off) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.deleteInbox = db.prepare('DELETE FROM inboxes WHERE id = ?');
    this.insertPending = db.prepare('INSERT OR IGNORE INTO pending (inbox, msg, failures, state, off) VALUES (?, ?, 0, 0, ?)');
    this.deletePending = db.prepare('DELETE FROM pending WHERE inbox = ? AND msg = ?');
    this.selectPending = db.prepare('SELECT failures, state FROM pending WHERE inbox = ? AND msg = ?');
    this.updatePending = db.prepare('UPDATE pending SET failures = ?, state = ?, dead_reason = ?, off = ? WHERE inbox = ? AND msg = ?');
    this.deleteInboxPending = db.prepare('DELETE FROM pending WHERE inbox = ?');
    this.insertTopicMessage = db.prepare('INSERT OR IGNORE INTO topic_messages (topic, msg, ts) VALUES (?, ?, ?)');
    this.deleteTopicMessages = db.prepare('DELETE FROM topic_messages WHERE topic = ?');
    this.copyRetainedToInbox = db.prepare(
      'INSERT OR IGNORE INTO pending (inbox, msg, failures, state, off) SELECT ?, msg, 0, 0, ? FROM topic_messages WHERE topic = ? AND ts >= ?',
    );
    this.upsertDedup = db.prepare('INSERT OR REPLACE INTO dedup (target, producer_id, msg_id, ts, off) VALUES (?, ?, ?, ?, ?)');
    // One statement per repair, however many messages: a purge of a deep queue is one DELETE.
    // Parameters: inbox, state, except (JSON array)[, only (JSON array)]; redrive also the offset.
    const selected = 'inbox = ? AND state = ? AND msg NOT IN (SELECT value FROM json_each(?))';
    const only = ' AND msg IN (SELECT value FROM json_each(?))';
    const redrive = 'UPDATE pending SET failures = 0, state = 0, dead_reason = NULL, off = ? WHERE ';
    this.repairs = {
      'gone/all': db.prepare(`DELETE FROM pending WHERE ${selected}`),
      'gone/only': db.prepare(`DELETE FROM pending WHERE ${selected}${only}`),
      'ready/all': db.prepare(`${redrive}${selected} RETURNING msg`),
      'ready/only': db.prepare(`${redrive}${selected}${only} RETURNING msg`),
    };
  }

  apply(partition: number, offset: number, entry: LogEntry): ApplyEffect {
    switch (entry.type) {
      case 'publish':
        return this.applyPublish(offset, entry);
      case 'settle':
        return this.applySettle(offset, entry);
      case 'queue.declare': {
        const key = queueInboxKey(entry.exchange, entry.queue);
        if (this.catalog.inbox(key)) return NONE;
        return this.createInbox(partition, offset, key, 'queue', entry.exchange, entry.queue, null, entry.options, entry.at);
      }
      case 'queue.delete': {
        const inbox = this.catalog.inbox(queueInboxKey(entry.exchange, entry.queue));
        if (!inbox) return NONE;
        this.dropInbox(inbox);
        return { kind: 'inbox_deleted', inbox };
      }
      case 'topic.declare': {
        if (this.catalog.topic(entry.exchange, entry.topic)) return NONE;
        const info = this.insertTopic.run(partition, entry.exchange, entry.topic, JSON.stringify(entry.options), entry.at, offset);
        this.catalog.addTopic({
          id: Number(info.lastInsertRowid),
          partition,
          exchange: entry.exchange,
          name: entry.topic,
          options: entry.options,
          createdAt: entry.at,
          subscriptions: new Set(),
        });
        return NONE;
      }
      case 'topic.delete': {
        const topic = this.catalog.topic(entry.exchange, entry.topic);
        if (!topic) return NONE;
        return { kind: 'purged', inboxes: this.dropTopic(topic) };
      }
      case 'subscription.create': {
        const topic = this.catalog.topic(entry.exchange, entry.topic);
        const key = subscriptionInboxKey(entry.exchange, entry.topic, entry.subscription);
        if (!topic || this.catalog.inbox(key)) return NONE;
        const effect = this.createInbox(partition, offset, key, 'subscription', entry.exchange, entry.subscription, topic.id, DEFAULT_QUEUE_OPTIONS, entry.at);
        if (entry.from === 'earliest') {
          this.copyRetainedToInbox.run(effect.inbox.id, offset, topic.id, retainedSince(entry.at, topic.options.retention_ms));
        }
        return effect;
      }
      case 'subscription.delete': {
        const inbox = this.catalog.inbox(subscriptionInboxKey(entry.exchange, entry.topic, entry.subscription));
        if (!inbox) return NONE;
        this.dropInbox(inbox);
        return { kind: 'inbox_deleted', inbox };
      }
      case 'exchange.purge': {
        const { topics, inboxes } = this.catalog.ofExchange(partition, entry.exchange);
        const dropped: InboxRecord[] = [];
        for (const topic of topics) dropped.push(...this.dropTopic(topic));
        for (const inbox of inboxes) {
          if (inbox.kind !== 'queue') continue;
          this.dropInbox(inbox);
          dropped.push(inbox);
        }
        return { kind: 'purged', inboxes: dropped };
      }
      case 'inbox.purge':
      case 'dead_letters.redrive':
      case 'dead_letters.delete':
        return this.applyRepair(offset, entry);
      case 'epoch.start':
        return NONE;
    }
  }

  /** Carries out repairPlan(entry) in one statement (the same as repairStep on each message). */
  private applyRepair(offset: number, entry: RepairEntry): ApplyEffect {
    const plan = repairPlan(entry);
    const inbox = this.catalog.inbox(entry.inbox);
    // Still an effect: the leader answers the request that wrote the entry from it.
    if (!inbox) return { kind: 'repaired', offset, inbox: null, from: plan.from, count: 0, ready: [] };
    const params: unknown[] = [inbox.id, plan.from === 'dead' ? 1 : 0, JSON.stringify(plan.except)];
    if (plan.only !== null) params.push(JSON.stringify(plan.only));
    const which = plan.only === null ? 'all' : 'only';
    if (plan.to === 'gone') {
      const count = this.repairs[`gone/${which}`].run(...params).changes;
      return { kind: 'repaired', offset, inbox: inbox.id, from: plan.from, count, ready: [] };
    }
    const rows = this.repairs[`ready/${which}`].all(offset, ...params) as Array<{ msg: number }>;
    const ready = rows.map((row) => row.msg).sort((a, b) => a - b);
    return { kind: 'repaired', offset, inbox: inbox.id, from: plan.from, count: ready.length, ready };
  }

  private applyPublish(offset: number, entry: Extract<LogEntry, { type: 'publish' }>): ApplyEffect {
    const { message } = entry;
    if (message.producerId !== undefined) {
      this.upsertDedup.run(targetKey(entry.target, entry.exchange, entry.name), message.producerId, message.id, message.publishedAt, offset);
    }
    if (entry.target === 'queue') {
      const inbox = this.catalog.inbox(queueInboxKey(entry.exchange, entry.name));
      if (!inbox) return NONE;
      const inserted = this.insertPending.run(inbox.id, offset, offset).changes > 0;
      return { kind: 'published', offset, inboxes: inserted ? [inbox.id] : [], message };
    }
    const topic = this.catalog.topic(entry.exchange, entry.name);
    if (!topic) return NONE;
    this.insertTopicMessage.run(topic.id, offset, message.publishedAt);
    const inboxes = [...topic.subscriptions].filter((inboxId) => this.insertPending.run(inboxId, offset, offset).changes > 0);
    return { kind: 'published', offset, inboxes, message };
  }

  private applySettle(offset: number, entry: Extract<LogEntry, { type: 'settle' }>): ApplyEffect {
    const inbox = this.catalog.inbox(entry.inbox);
    if (!inbox) return NONE;
    const results: SettleResult[] = [];
    for (const message of entry.messages) {
      const row = this.selectPending.get(inbox.id, message) as { failures: number; state: number } | undefined;
      const step = settleStep(row && { failures: row.failures, dead: row.state !== 0 }, entry, inbox.options.max_deliveries);
      if (step.action === 'delete') this.deletePending.run(inbox.id, message);
      else if (step.action === 'update') this.updatePending.run(step.failures, step.state === 'dead' ? 1 : 0, step.reason, offset, inbox.id, message);
      results.push({ offset: message, state: step.state, failures: step.failures, changed: step.action !== 'none' });
    }
    return { kind: 'settled', inbox: inbox.id, results };
  }

  private createInbox(
    partition: number,
    offset: number,
    key: string,
    kind: 'queue' | 'subscription',
    exchange: string,
    name: string,
    topicId: number | null,
    options: QueueOptions,
    at: number,
  ): { kind: 'inbox_created'; inbox: InboxRecord } {
    const info = this.insertInbox.run(partition, key, kind, exchange, name, topicId, JSON.stringify(options), at, offset);
    const inbox: InboxRecord = { id: Number(info.lastInsertRowid), partition, key, kind, exchange, name, topicId, options, createdAt: at };
    this.catalog.addInbox(inbox);
    return { kind: 'inbox_created', inbox };
  }

  private dropInbox(inbox: InboxRecord): void {
    this.deleteInboxPending.run(inbox.id);
    this.deleteInbox.run(inbox.id);
    this.catalog.removeInbox(inbox);
  }

  private dropTopic(topic: TopicRecord): InboxRecord[] {
    const dropped: InboxRecord[] = [];
    for (const inboxId of [...topic.subscriptions]) {
      const inbox = this.catalog.inboxesById.get(inboxId);
      if (!inbox) continue;
      this.dropInbox(inbox);
      dropped.push(inbox);
    }
    this.deleteTopicMessages.run(topic.id);
    this.deleteTopic.run(topic.id);
    this.catalog.removeTopic(topic);
    return dropped;
  }
}
