/**
 * `mombroker queues EXCHANGE` and `mombroker topics EXCHANGE`: what the exchange holds, with
 * depth, in-flight and dead letters, as a table; `--json` prints the API's answer
 * (`{"queues":[…]}` or `{"topics":[…]}`) instead.
 */
import type { Command } from 'commander';
import type { Connection, QueueListing, TopicListing } from '../client';
import { clientCommand, runClient, writeOut } from './client-options';
import { formatTable } from './table';

export function registerListCommands(program: Command): void {
  registerList(program, 'queues', 'list the queues of an exchange with their depth, in-flight and dead letters (a table, or --json)', async (connection, exchange) => {
    const queues = await connection.listQueues(exchange);
    return { json: { queues }, table: queuesTable(queues) };
  });
  registerList(program, 'topics', 'list the topics of an exchange and their subscriptions with depth, in-flight and dead letters (a table, or --json)', async (connection, exchange) => {
    const topics = await connection.listTopics(exchange);
    return { json: { topics }, table: topicsTable(topics) };
  });
}

/** `mombroker <what> EXCHANGE [--json]`: one listing of GET /v1/exchanges/{ex}/<what>. */
function registerList(program: Command, what: 'queues' | 'topics', description: string, list: (connection: Connection, exchange: string) => Promise<{ json: unknown; table: string }>): void {
  clientCommand(program, what)
    .description(description)
    .argument('<exchange>', 'exchange name')
    .option('--json', `print the JSON answer of GET /v1/exchanges/{ex}/${what}`)
    .action(async (exchange: string, _options: unknown, command: Command) => {
      const json = command.opts<{ json?: boolean }>().json === true;
      await runClient(
        command,
        () => undefined,
        async (connection) => {
          const answer = await list(connection, exchange);
          await writeOut(json ? `${JSON.stringify(answer.json, null, 2)}\n` : answer.table);
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
