/**
 * `mombroker declare exchange|queue|topic|subscription …`: PUT, idempotent (DESIGN §8). Prints
 * whether it was created or already there; options that differ from the existing ones fail
 * with `conflict`.
 */
import type { Command } from 'commander';
import type { DeclareResult, QueueOptions, SubscriptionOptions, TopicOptions } from '../client';
import { clientCommand, integerOption, runClient, usageError, usageExit, writeOut } from './client-options';

export function registerDeclareCommand(program: Command): void {
  const declare = program.command('declare').description('declare an exchange, queue, topic or subscription (idempotent)').exitOverride(usageExit);

  clientCommand(declare, 'exchange')
    .description('declare an exchange')
    .argument('<exchange>', 'exchange name')
    .action(async (exchange: string, _options: unknown, command: Command) => {
      await runClient(
        command,
        () => undefined,
        async (connection) => print(await connection.declareExchange(exchange), `exchange ${exchange}`),
      );
    });

  clientCommand(declare, 'queue')
    .description('declare a queue')
    .argument('<exchange>', 'exchange name')
    .argument('<queue>', 'queue name')
    .option('--max-deliveries <n>', 'dead-letter a message when its n-th delivery fails (0 = unlimited)')
    .option('--message-ttl-ms <ms>', 'drop messages not consumed within this time')
    .option('--max-length <n>', 'refuse publishes past this many pending messages')
    .action(async (exchange: string, queue: string, _options: unknown, command: Command) => {
      const flags = command.opts<{ maxDeliveries?: string; messageTtlMs?: string; maxLength?: string }>();
      await runClient(
        command,
        (): QueueOptions => {
          const options: QueueOptions = {};
          const maxDeliveries = integerOption(flags.maxDeliveries, '--max-deliveries', 0);
          const messageTtlMs = integerOption(flags.messageTtlMs, '--message-ttl-ms', 1);
          const maxLength = integerOption(flags.maxLength, '--max-length', 1);
          if (maxDeliveries !== undefined) options.max_deliveries = maxDeliveries;
          if (messageTtlMs !== undefined) options.message_ttl_ms = messageTtlMs;
          if (maxLength !== undefined) options.max_length = maxLength;
          return options;
        },
        async (connection, options) => print(await connection.queue(exchange, queue).declare(options), `queue ${exchange}/${queue}`),
      );
    });

  clientCommand(declare, 'topic')
    .description('declare a topic')
    .argument('<exchange>', 'exchange name')
    .argument('<topic>', 'topic name')
    .option('--retention-ms <ms>', 'keep messages this long (default 7 days)')
    .action(async (exchange: string, topic: string, _options: unknown, command: Command) => {
      const flags = command.opts<{ retentionMs?: string }>();
      await runClient(
        command,
        (): TopicOptions => {
          const retentionMs = integerOption(flags.retentionMs, '--retention-ms', 1);
          return retentionMs === undefined ? {} : { retention_ms: retentionMs };
        },
        async (connection, options) => print(await connection.topic(exchange, topic).declare(options), `topic ${exchange}/${topic}`),
      );
    });

  clientCommand(declare, 'subscription')
    .description('subscribe to a topic (an existing subscription is kept as it is)')
    .argument('<exchange>', 'exchange name')
    .argument('<topic>', 'topic name')
    .argument('<subscription>', 'subscription name')
    .option('--from <start>', 'latest (default): messages published from now on; earliest: every retained one')
    .action(async (exchange: string, topic: string, subscription: string, _options: unknown, command: Command) => {
      const flags = command.opts<{ from?: string }>();
      await runClient(
        command,
        () => subscriptionOptions(flags.from),
        async (connection, options) =>
          print(await connection.topic(exchange, topic).subscription(subscription).declare(options), `subscription ${exchange}/${topic}/${subscription}`),
      );
    });
}

/** `--from` as subscription options: earliest or latest, or nothing for the server's default. */
export function subscriptionOptions(from: string | undefined): SubscriptionOptions {
  if (from === undefined) return {};
  if (from !== 'earliest' && from !== 'latest') throw usageError(`--from: expected earliest or latest, got ${JSON.stringify(from)}`);
  return { from };
}

function print(result: DeclareResult, what: string): Promise<void> {
  return writeOut(result.created ? `created ${what}\n` : `${what} already exists\n`);
}
