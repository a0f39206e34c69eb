/**
 * `mombroker status [EXCHANGE [QUEUE]]`: tables for a person.
 *
 * - no arguments: the broker at the URL (health), and where it can tell (a gateway or
 *   `--role all`, from GET /partitions) the live nodes and every partition's leader, epoch,
 *   replicas and in-sync replicas. Needs no credentials.
 * - EXCHANGE: the queues and topics of the exchange with their depth, in-flight and dead letters.
 * - EXCHANGE QUEUE: that queue's stats, naming the partition's leader.
 *
 * `--json` prints one JSON object instead: `{url, health}`, with `queue` (its stats) for
 * EXCHANGE QUEUE, or `queues` and `topics` for EXCHANGE — the first two exactly as before
 * tables existed.
 */
import type { Command } from 'commander';
import { isMomClientError, type Connection, type QueueStats } from '../client';
import { clientCommand, runClient, writeOut } from './client-options';
import { queuesTable, topicsTable } from './queues';
import { formatDuration, formatTable } from './table';

interface Health {
  status?: string;
  roles?: string[];
  node_id?: string;
  version?: string;
  uptime_ms?: number;
}

interface MapView {
  partitions: Array<{ partition: number; leader: string | null; leader_epoch: number; replicas: string[]; isr?: string[] }>;
  nodes: Array<{ id: string; http: string; grpc: string; version: string }>;
}

export function registerStatusCommand(program: Command): void {
  clientCommand(program, 'status')
    .description('show the broker (nodes and partitions), the queues and topics of an exchange, or one queue, as tables (or --json)')
    .argument('[exchange]', 'show the queues and topics of this exchange')
    .argument('[queue]', 'show this queue of the exchange')
    .option('--json', 'print one JSON object: {url, health}, plus queue (EXCHANGE QUEUE) or queues and topics (EXCHANGE)')
    .action(async (exchange: string | undefined, queue: string | undefined, _options: unknown, command: Command) => {
      const json = command.opts<{ json?: boolean }>().json === true;
      await runClient(
        command,
        () => undefined,
        async (connection) => {
          const health = (await connection.health()) as Health;
          if (json) {
            const status: Record<string, unknown> = { url: connection.url, health };
            if (exchange !== undefined && queue !== undefined) status.queue = await connection.queue(exchange, queue).stats();
            else if (exchange !== undefined) {
              status.queues = await connection.listQueues(exchange);
              status.topics = await connection.listTopics(exchange);
            }
            await writeOut(`${JSON.stringify(status, null, 2)}\n`);
            return;
          }
          let text = brokerTable(connection.url, health);
          if (exchange === undefined) text += await clusterTables(connection);
          else if (queue === undefined) {
            text += `\n${queuesTable(await connection.listQueues(exchange))}\n${topicsTable(await connection.listTopics(exchange))}`;
          } else {
            text += `\n${queueTable(exchange, await connection.queue(exchange, queue).stats())}`;
          }
          await writeOut(text);
        },
        // The broker and its map need no login; an exchange's queues do.
        { credentials: exchange !== undefined },
      );
    });
}

function brokerTable(url: string, health: Health): string {
  return formatTable(
    ['URL', 'STATUS', 'NODE', 'ROLES', 'VERSION', 'UPTIME'],
    [[url, health.status, health.node_id, health.roles?.join(','), health.version, health.uptime_ms === undefined ? undefined : formatDuration(health.uptime_ms)]],
  );
}

/** Nodes and partitions from the URL's GET /partitions; a node alone has no map to show. */
async function clusterTables(connection: Connection): Promise<string> {
  let map: MapView;
  try {
    map = (await connection.request<MapView>({ method: 'GET', path: '/partitions', idempotent: true, auth: false })).body;
  } catch (error) {
    if (isMomClientError(error) && (error.status === 404 || error.status === 405)) {
      return '\n(no partition map here: this URL is a node; run status against a gateway or --role all for nodes and partitions)\n';
    }
    throw error;
  }
  const leads = (id: string) => map.partitions.filter((p) => p.leader === id).length;
  const nodes = formatTable(
    ['NODE', 'URL', 'GRPC', 'VERSION', { header: 'LEADS', align: 'right' }],
    map.nodes.map((node) => [node.id, node.http, node.grpc, node.version, leads(node.id)]),
  );
  const partitions = formatTable(
    [{ header: 'PARTITION', align: 'right' }, 'LEADER', { header: 'EPOCH', align: 'right' }, 'REPLICAS', 'ISR'],
    map.partitions.map((p) => [p.partition, p.leader, p.leader_epoch, p.replicas.join(','), p.isr?.join(',')]),
  );
  return `\n${nodes}\n${partitions}`;
}

function queueTable(exchange: string, stats: QueueStats): string {
  const options = (stats.options ?? {}) as { max_deliveries?: number; message_ttl_ms?: number | null; max_length?: number | null };
  return formatTable(
    ['QUEUE', 'DEPTH', 'IN_FLIGHT', 'DEAD_LETTERS', 'PARTITION', 'LEADER', 'MAX_DELIVERIES', 'MESSAGE_TTL_MS', 'MAX_LENGTH'].map((header) =>
      header === 'QUEUE' || header === 'LEADER' ? header : { header, align: 'right' as const },
    ),
    [[`${exchange}/${stats.name}`, stats.depth, stats.in_flight, stats.dead_letters, stats.partition, stats.leader, options.max_deliveries, options.message_ttl_ms, options.max_length]],
  );
}

