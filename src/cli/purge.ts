/**
 * `mombroker purge EXCHANGE QUEUE` (or `--topic T [--subscription S]`): removes the messages
 * ready for delivery; leased ones stay with their consumers (DESIGN §8, needs configure).
 */
import type { Command } from 'commander';
import { clientCommand, runClient, writeOut } from './client-options';
import { checkInboxTarget, openInbox, withInboxOptions, type InboxFlags } from './inbox-target';

export function registerPurgeCommand(program: Command): void {
  withInboxOptions(clientCommand(program, 'purge'))
    .description('remove the messages of a queue (or subscription) that are ready for delivery; leased ones stay')
    .action(async (exchange: string, queue: string | undefined, _options: unknown, command: Command) => {
      await runClient(
        command,
        () => checkInboxTarget(exchange, queue, command.opts<InboxFlags>()),
        async (connection, target) => {
          const { inbox, what } = await openInbox(connection, target);
          const purged = await inbox.purge();
          await writeOut(`purged ${purged} message(s) from ${what}\n`);
        },
      );
    });
}
