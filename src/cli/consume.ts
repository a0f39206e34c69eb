/**
 * `mombroker consume EXCHANGE QUEUE` or `mombroker consume EXCHANGE --topic T [--subscription S]
 * [--from earliest]`: prints one JSON object per message, one per line,
 * `{"id","payload","headers","published_at","deliveries"}`, and acks each batch once it is
 * written. Runs until `--max` messages were printed, or SIGINT/SIGTERM.
 */
import type { Command } from 'commander';
import type { Connection, Queue, Subscription, SubscriptionOptions } from '../client';
import { clientCommand, integerOption, runClient, usageError, writeOut } from './client-options';
import { subscriptionOptions } from './declare';

interface ConsumeFlags {
  topic?: string;
  subscription?: string;
  from?: string;
  max?: string;
  waitMs?: string;
  leaseMs?: string;
  ack: boolean;
}

/** Messages per pull when no smaller --max remains. */
const PULL_MAX = 100;

export function registerConsumeCommand(program: Command): void {
  clientCommand(program, 'consume')
    .description('print messages of a queue (or of a topic subscription with --topic) as JSON lines, acking them')
    .argument('<exchange>', 'exchange name')
    .argument('[queue]', 'queue name (omit with --topic)')
    .option('--topic <topic>', 'consume a subscription of this topic')
    .option('--subscription <name>', 'subscription name with --topic (default: the user name)')
    .option('--from <start>', 'where a new subscription starts: latest (default) or earliest')
    .option('--max <n>', 'exit after this many messages')
    .option('--wait-ms <ms>', 'long-poll wait per request, 0-30000', '5000')
    .option('--lease-ms <ms>', 'how long printed messages stay leased before redelivery if not acked')
    .option('--no-ack', 'print without acking (messages come back when their lease expires)')
    .action(async (exchange: string, queue: string | undefined, _options: unknown, command: Command) => {
      const flags = command.opts<ConsumeFlags>();
      await runClient(
        command,
        () => checkArguments(queue, flags),
        (connection, input) => consume(connection, exchange, input),
      );
    });
}

interface ConsumeInput {
  queue: string | undefined;
  topic: string | undefined;
  subscription: string | undefined;
  subscriptionOptions: SubscriptionOptions;
  max: number | undefined;
  waitMs: number | undefined;
  leaseMs: number | undefined;
  ack: boolean;
}

function checkArguments(queue: string | undefined, flags: ConsumeFlags): ConsumeInput {
  if (flags.topic === undefined) {
    if (queue === undefined) throw usageError('expected a QUEUE after the exchange (or --topic TOPIC)');
    if (flags.subscription !== undefined || flags.from !== undefined) throw usageError('--subscription and --from go with --topic');
  } else if (queue !== undefined) {
    throw usageError(`with --topic, no QUEUE argument is expected (got ${JSON.stringify(queue)})`);
  }
  return {
    queue,
    topic: flags.topic,
    subscription: flags.subscription,
    subscriptionOptions: subscriptionOptions(flags.from),
    max: integerOption(flags.max, '--max', 1),
    waitMs: integerOption(flags.waitMs, '--wait-ms', 0, 30_000),
    leaseMs: integerOption(flags.leaseMs, '--lease-ms', 100),
    ack: flags.ack,
  };
}

async function consume(connection: Connection, exchange: string, input: ConsumeInput): Promise<void> {
  // PUT of a subscription is idempotent: it creates it, or keeps the existing one as it is.
  const source: Queue | Subscription =
    input.topic === undefined
      ? connection.queue(exchange, input.queue!)
      : await connection.topic(exchange, input.topic).subscribe(input.subscription, input.subscriptionOptions);
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let remaining = input.max ?? Number.POSITIVE_INFINITY;
    while (remaining > 0 && !stop.signal.aborted) {
      let messages;
      try {
        messages = await source.pull({ max: Math.min(PULL_MAX, remaining), waitMs: input.waitMs, leaseMs: input.leaseMs, signal: stop.signal });
      } catch (error) {
        if (stop.signal.aborted) break;
        throw error;
      }
      if (messages.length === 0) continue;
      await writeOut(messages.map((message) => `${JSON.stringify(message)}\n`).join(''));
      // Printed, so safe to settle: a crash before this line means redelivery, not loss.
      if (input.ack) await source.ack(messages.map((message) => message.id));
      remaining -= messages.length;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
