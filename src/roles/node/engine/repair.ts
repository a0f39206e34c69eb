import type { RepairEntry } from '../../../core/entries';
import type { InboxRecord } from '../../../store/catalog';
import type { LeaderPartition } from './leader-partition';

/**
 * Repairs on a partition's leader (DESIGN §8): purging an inbox's ready messages, and making
 * its dead letters deliverable again (redrive) or deleting them. Each is one log entry, as an
 * ack is, so it replicates and survives a failover; what it does to each message is decided
 * by repairPlan (src/core/state-machine.ts), and what it changes in the leader's delivery state
 * by LeaderPartition.
 *
 * Purge keeps the messages leased now: the entry names them, so every replica keeps the same
 * ones (the store does not know leases). Redrive starts the messages over: their failed
 * deliveries go back to 0.
 */
export class Repair {
  constructor(private readonly partition: LeaderPartition) {}

  /** Removes the inbox's ready messages (not the leased ones); resolves how many went. */
  purge(inboxKey: string): Promise<number> {
    const inbox = this.partition.requireInbox(inboxKey);
    const keep = [...(this.partition.existingDelivery(inbox.id)?.leasedOffsets ?? [])];
    return this.record({ type: 'inbox.purge', inbox: inbox.key, keep, at: Date.now() });
  }

  /** Makes dead letters deliverable again (`ids` null: every one); resolves how many. Unknown ids are skipped. */
  redrive(inboxKey: string, ids: readonly string[] | null): Promise<number> {
    const inbox = this.partition.requireInbox(inboxKey);
    const messages = this.select(inbox, ids);
    if (messages !== null && messages.length === 0) return Promise.resolve(0);
    return this.record({ type: 'dead_letters.redrive', inbox: inbox.key, messages, at: Date.now() });
  }

  /** Deletes dead letters (`ids` null: every one); resolves how many. Unknown ids are skipped. */
  deleteDeadLetters(inboxKey: string, ids: readonly string[] | null): Promise<number> {
    const inbox = this.partition.requireInbox(inboxKey);
    const messages = this.select(inbox, ids);
    if (messages !== null && messages.length === 0) return Promise.resolve(0);
    return this.record({ type: 'dead_letters.delete', inbox: inbox.key, messages, at: Date.now() });
  }

  /** The offsets of the dead letters with these ids, or null for all of them. */
  private select(inbox: InboxRecord, ids: readonly string[] | null): number[] | null {
    if (ids === null) return null;
    if (ids.length === 0) return [];
    return this.partition.store.deadLetterOffsets(this.partition.partition, inbox.id, ids);
  }

  /** Commits the entry (acks=all) and answers how many messages applying it acted on. */
  private async record(entry: RepairEntry): Promise<number> {
    const offset = await this.partition.commit([entry]);
    return this.partition.repairCount(offset);
  }
}
