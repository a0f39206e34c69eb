/**
 * Which queue or subscription a repair command (purge, redrive, dead-letters) acts on:
 * `EXCHANGE QUEUE`, or `EXCHANGE --topic T [--subscription S]` (S defaults to the user's
 * name, MOM-py's per-user subscription, as for consume).
 */
import type { Command } from 'commander';
import type { Connection, Queue, Subscription } from '../client';
import { usageError } from './client-options';

export interface InboxFlags {
  topic?: string;
  subscription?: string;
}

export interface InboxTarget {
  exchange: string;
  queue: string | undefined;
  topic: string | undefined;
  subscription: string | undefined;
}

export function withInboxOptions(command: Command): Command {
  return command
    .argument('<exchange>', 'exchange name')
    .argument('[queue]', 'queue name (omit with --topic)')
    .option('--topic <topic>', 'a subscription of this topic instead of a queue')
    .option('--subscription <name>', 'subscription name with --topic (default: the user name)');
}

export function checkInboxTarget(exchange: string, queue: string | undefined, flags: InboxFlags): InboxTarget {
  if (flags.topic === undefined) {
    if (queue === undefined) throw usageError('expected a QUEUE after the exchange (or --topic TOPIC)');
    if (flags.subscription !== undefined) throw usageError('--subscription goes with --topic');
  } else if (queue !== undefined) {
    throw usageError(`with --topic, no QUEUE argument is expected (got ${JSON.stringify(queue)})`);
  }
  return { exchange, queue, topic: flags.topic, subscription: flags.subscription };
}

/** The handle (no request but, for a default subscription name, who the user is) and how to name it. */
export async function openInbox(connection: Connection, target: InboxTarget): Promise<{ inbox: Queue | Subscription; what: string }> {
  if (target.queue !== undefined) return { inbox: connection.queue(target.exchange, target.queue), what: `queue ${target.exchange}/${target.queue}` };
  const name = target.subscription ?? (await connection.username());
  return { inbox: connection.topic(target.exchange, target.topic!).subscription(name), what: `subscription ${target.exchange}/${target.topic}/${name}` };
}
