import { randomUUID } from 'node:crypto';
import { targetKey, type LogEntry, type TargetKind } from '../../../core/entries';
import { MomError } from '../../../core/errors';
import type { PublishInput } from '../../../core/requests';
import type { AckMode } from '../../../log/commit-log';
import type { InboxDelivery } from './inbox-delivery';
import type { LeaderPartition } from './leader-partition';
import { ProducerIds } from './producer-ids';

export interface PublishResult {
  ids: string[];
  duplicates: number;
}

/**
 * Publishing on a partition's leader: one log entry per message, deduplicated by producer id
 * within the window (DESIGN §2), refused past a queue's max_length, answered once committed
 * (acks=all) or once on the leader's disk (acks=leader).
 */
export class Publishing {
  private readonly producerIds: ProducerIds;

  constructor(private readonly partition: LeaderPartition) {
    this.producerIds = new ProducerIds(partition.store, partition.options.dedupWindowMs);
  }

  async publish(target: TargetKind, exchange: string, name: string, inputs: PublishInput[], acks: AckMode): Promise<PublishResult> {
    let maxLength: number | null = null;
    let delivery: InboxDelivery | undefined;
    if (target === 'queue') {
      const inbox = this.partition.requireQueue(exchange, name);
      maxLength = inbox.options.max_length;
      delivery = this.partition.delivery(inbox);
    } else {
      this.partition.requireTopic(exchange, name);
    }
    const key = targetKey(target, exchange, name);
    const now = Date.now();
    const ids = new Array<string>(inputs.length);
    const entries: LogEntry[] = [];
    const claimed: string[] = [];
    let duplicates = 0;
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i]!;
      if (input.producerId !== undefined) {
        const original = this.producerIds.find(key, input.producerId, now);
        if (original !== undefined) {
          ids[i] = original;
          duplicates++;
          continue;
        }
        claimed.push(this.producerIds.claim(key, input.producerId));
      }
      const id = input.producerId ?? randomUUID();
      ids[i] = id;
      entries.push({
        type: 'publish',
        target,
        exchange,
        name,
        message: { id, producerId: input.producerId, payload: input.payload, headers: input.headers, publishedAt: now },
      });
    }
    if (maxLength !== null && delivery && delivery.readyCount + entries.length > maxLength) {
      this.producerIds.release(claimed);
      throw new MomError('queue_full', `queue ${exchange}/${name} is full (max_length ${maxLength}); consume or retry later`);
    }
    if (entries.length > 0) {
      try {
        await this.partition.commit(entries, acks);
      } finally {
        this.producerIds.release(claimed);
      }
    }
    return { ids, duplicates };
  }
}
