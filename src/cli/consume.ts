/**
 * `mombroker consume EXCHANGE QUEUE` or `mombroker consume EXCHANGE --topic T [--subscription S]
 * [--from earliest]`: prints one JSON object per message, one per line,
 * `{"id","payload","headers","published_at","deliveries"}`, and acks each message once it is
 * written. Messages are pushed over a stream (`--pull` for long polls instead). Runs until
 * `--max` messages were printed, or follows forever until SIGINT/SIGTERM, then says on stderr
 * how many it printed.
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
  prefetch?: string;
  pull?: boolean;
  ack: boolean;
}

/** Messages per pull, and the stream's prefetch, when no smaller --max is given. */
const BATCH = 100;

export function registerConsumeCommand(program: Command): void {
  clientCommand(program, 'consume')
    .summary('print messages of a queue or subscription as JSON lines, acking them; follows forever without --max')
    .description(
      'print messages of a queue (or of a topic subscription with --topic) as JSON lines, acking them; ' +
        'without --max it follows forever, until Ctrl-C (or SIGTERM), then says on stderr how many it printed',
    )
    .argument('<exchange>', 'exchange name')
    .argument('[queue]', 'queue name (omit with --topic)')
    .option('--topic <topic>', 'consume a subscription of this topic')
    .option('--subscription <name>', 'subscription name with --topic (default: the user name)')
    .option('--from <start>', 'where a new subscription starts: latest (default) or earliest')
    .option('--max <n>', 'exit after this many messages (without it: follow forever, until Ctrl-C)')
    .option('--prefetch <n>', 'stream: messages delivered and not yet acked at most, 1-1000 (default 100, or --max if smaller)')
    .option('--pull', 'long polls instead of a stream')
    .option('--wait-ms <ms>', 'with --pull: long-poll wait per request, 0-30000', '5000')
    .option('--lease-ms <ms>', 'how long printed messages stay leased before redelivery if not acked')
    .option('--no-ack', 'print without acking (with long polls: messages come back when their lease expires)')
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
  prefetch: number | undefined;
  pull: boolean;
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
    prefetch: integerOption(flags.prefetch, '--prefetch', 1, 1000),
    pull: flags.pull === true,
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
  const max = input.max ?? Number.POSITIVE_INFINITY;
  const batch = Math.min(BATCH, max);
  let printed = 0;
  let ackFailure: unknown;
  try {
    const messages = source.consume({
      // Unacked messages on a stream come back as soon as it closes; --no-ack keeps them leased
      // until their lease expires, as a pull does.
      mode: input.pull || !input.ack ? 'pull' : 'stream',
      prefetch: input.prefetch ?? batch,
      max: batch,
      waitMs: input.waitMs,
      leaseMs: input.leaseMs,
      signal: stop.signal,
    });
    for await (const message of messages) {
      await writeOut(`${JSON.stringify(message)}\n`);
      printed++;
      // Printed, so safe to settle: a crash before this line means redelivery, not loss. Acks
      // of one moment go in one request; the stream's end sends what is left.
      if (input.ack) message.ack().catch((error: unknown) => (ackFailure ??= error));
      if (ackFailure !== undefined) throw ackFailure;
      if (printed >= max) break;
    }
    if (ackFailure !== undefined) throw ackFailure;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (stop.signal.aborted) process.stderr.write(`consumed ${printed} message(s) from ${describeSource(exchange, input)}\n`);
  }
}

function describeSource(exchange: string, input: ConsumeInput): string {
  if (input.topic === undefined) return `queue ${exchange}/${input.queue}`;
  return `topic ${exchange}/${input.topic}, subscription ${input.subscription ?? '(your user name)'}`;
}
