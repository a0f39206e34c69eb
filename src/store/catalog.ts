import type { InboxKind, QueueOptions, TopicOptions } from '../core/entries';

export interface TopicRecord {
  id: number;
  partition: number;
  exchange: string;
  name: string;
  options: TopicOptions;
  createdAt: number;
  /** Inbox ids of its subscriptions. */
  subscriptions: Set<number>;
}

export interface InboxRecord {
  id: number;
  partition: number;
  key: string;
  kind: InboxKind;
  exchange: string;
  /** Queue name, or subscription name. */
  name: string;
  topicId: number | null;
  /** Queue options; subscriptions use the defaults (unlimited deliveries, no TTL). */
  options: QueueOptions;
  createdAt: number;
}

/** Registers how to undo a change should the transaction that made it roll back (GroupCommit.onRollback). */
export type UndoRecorder = (undo: () => void) => void;

/**
 * The in-memory index of what exists on this node: topics and inboxes by key. It mirrors the
 * derived tables and changes only when the state applier changes them, inside their
 * transaction: each change records its undo, so a rollback leaves the index as the tables are.
 */
export class Catalog {
  readonly topicsByKey = new Map<string, TopicRecord>();
  readonly topicsById = new Map<number, TopicRecord>();
  readonly inboxesByKey = new Map<string, InboxRecord>();
  readonly inboxesById = new Map<number, InboxRecord>();

  constructor(private readonly recordUndo: UndoRecorder = () => {}) {}

  addTopic(topic: TopicRecord): void {
    this.topicsByKey.set(`${topic.exchange}/${topic.name}`, topic);
    this.topicsById.set(topic.id, topic);
    this.recordUndo(() => this.removeTopic(topic));
  }

  removeTopic(topic: TopicRecord): void {
    this.topicsByKey.delete(`${topic.exchange}/${topic.name}`);
    this.topicsById.delete(topic.id);
    this.recordUndo(() => this.addTopic(topic));
  }

  topic(exchange: string, name: string): TopicRecord | undefined {
    return this.topicsByKey.get(`${exchange}/${name}`);
  }

  addInbox(inbox: InboxRecord): void {
    this.inboxesByKey.set(inbox.key, inbox);
    this.inboxesById.set(inbox.id, inbox);
    if (inbox.topicId !== null) this.topicsById.get(inbox.topicId)?.subscriptions.add(inbox.id);
    this.recordUndo(() => this.removeInbox(inbox));
  }

  removeInbox(inbox: InboxRecord): void {
    this.inboxesByKey.delete(inbox.key);
    this.inboxesById.delete(inbox.id);
    if (inbox.topicId !== null) this.topicsById.get(inbox.topicId)?.subscriptions.delete(inbox.id);
    this.recordUndo(() => this.addInbox(inbox));
  }

  inbox(key: string): InboxRecord | undefined {
    return this.inboxesByKey.get(key);
  }

  /** Everything of one exchange in one partition, for exchange deletion. */
  ofExchange(partition: number, exchange: string): { topics: TopicRecord[]; inboxes: InboxRecord[] } {
    return {
      topics: [...this.topicsById.values()].filter((t) => t.partition === partition && t.exchange === exchange),
      inboxes: [...this.inboxesById.values()].filter((i) => i.partition === partition && i.exchange === exchange),
    };
  }

  countInExchange(exchange: string): number {
    let count = 0;
    for (const topic of this.topicsById.values()) if (topic.exchange === exchange) count++;
    for (const inbox of this.inboxesById.values()) if (inbox.exchange === exchange && inbox.kind === 'queue') count++;
    return count;
  }
}
