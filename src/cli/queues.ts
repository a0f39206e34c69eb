/**
 * `mombroker queues EXCHANGE` and `mombroker topics EXCHANGE`: what the exchange holds, with
 * depth, in-flight and dead letters, as a table; `--json` prints the API's answer
 * (`{"queues":[…]}` or `{"topics":[…]}`) instead.
 */
import type { Command } from 'commander';
import type { QueueListing, TopicListing } from '../client';
import { clientCommand, runClient, writeOut } from './client-options';
import { formatTable } from './table';

export function registerListCommands(program: Command): void {
  clientCommand(program, 'queues')
    .description('list the queues of an exchange with their depth, in-flight and dead letters (a table, or --json)')
    .argument('<exchange>', 'exchange name')
    .option('--json', 'print the JSON answer of GET /v1/exchanges/{ex}/queues')
    .action(async (exchange: string, _options: unknown, command: Command) => {
      const json = command.opts<{ json?: boolean }>().json === true;
      await runClient(
        command,
        () => undefined,
        async (connection) => {
          const queues = await connection.listQueues(exchange);
          await writeOut(json ? `${JSON.stringify({ queues }, null, 2)}\n` : queuesTable(queues));
        },
      );
    });

  clientCommand(program, 'topics')
    .description('list the topics of an exchange and their subscriptions with depth, in-flight and dead letters (a table, or --json)')
    .argument('<exchange>', 'exchange name')
    .option('--json', 'print the JSON answer of GET /v1/exchanges/{ex}/topics')
    .action(async (exchange: string, _options: unknown, command: Command) => {
      const json = command.opts<{ json?: boolean }>().json === true;
      await runClient(
        command,
        () => undefined,
        async (connection) => {
          const topics = await connection.listTopics(exchange);
          await writeOut(json ? `${JSON.stringify({ topics }, null, 2)}\n` : topicsTable(topics));
        },
      );
    });
}

export function queuesTable(queues: readonly QueueListing[]): string {
  return formatTable(
    ['QUEUE', 'DEPTH', 'IN_FLIGHT', 'DEAD_LETTERS', 'PARTITION', 'LEADER'],
    queues.map((q) => [q.name, q.depth, q.in_flight, q.dead_letters, q.partition, q.leader]),
  );
}

/** One row per subscription (a topic without any gets one row with `-`). */
export function topicsTable(topics: readonly TopicListing[]): string {
  const rows = topics.flatMap((topic) => {
    const where = [topic.partition, topic.leader, topic.retention_ms] as const;
    if (topic.subscriptions.length === 0) return [[topic.name, null, null, null, null, ...where]];
    return topic.subscriptions.map((s) => [topic.name, s.name, s.depth, s.in_flight, s.dead_letters, ...where]);
  });
  return formatTable(
    ['TOPIC', 'SUBSCRIPTION', { header: 'DEPTH', align: 'right' }, { header: 'IN_FLIGHT', align: 'right' }, { header: 'DEAD_LETTERS', align: 'right' }, { header: 'PARTITION', align: 'right' }, 'LEADER', { header: 'RETENTION_MS', align: 'right' }],
    rows,
  );
}
