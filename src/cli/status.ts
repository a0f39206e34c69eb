/**
 * `mombroker status [EXCHANGE QUEUE]`: the broker's GET /health and, given a queue, its stats
 * (depth, in flight, dead letters, partition, leader), as one JSON object.
 */
import type { Command } from 'commander';
import { clientCommand, runClient, usageError, writeOut } from './client-options';

export function registerStatusCommand(program: Command): void {
  clientCommand(program, 'status')
    .description('show the broker health, and the stats of a queue when given one (JSON)')
    .argument('[exchange]', 'exchange of the queue')
    .argument('[queue]', 'queue name')
    .action(async (exchange: string | undefined, queue: string | undefined, _options: unknown, command: Command) => {
      const wantsQueue = exchange !== undefined;
      await runClient(
        command,
        () => {
          if (wantsQueue && queue === undefined) throw usageError('expected EXCHANGE QUEUE, or no arguments for the health only');
        },
        async (connection) => {
          const status: Record<string, unknown> = { url: connection.url, health: await connection.health() };
          if (wantsQueue) status.queue = await connection.queue(exchange, queue!).stats();
          await writeOut(`${JSON.stringify(status, null, 2)}\n`);
        },
        // The health needs no login; queue stats do.
        { credentials: wantsQueue },
      );
    });
}
