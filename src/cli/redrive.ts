/**
 * `mombroker redrive EXCHANGE QUEUE [--id ID]…` (or `--topic T [--subscription S]`): makes
 * dead letters deliverable again, all of them or those with the ids given, their deliveries
 * counted afresh (DESIGN §8, needs configure).
 */
import type { Command } from 'commander';
import { clientCommand, collectRepeated, runClient, writeOut } from './client-options';
import { checkInboxTarget, openInbox, withInboxOptions, type InboxFlags } from './inbox-target';

export function registerRedriveCommand(program: Command): void {
  withInboxOptions(clientCommand(program, 'redrive'))
    .description('make the dead letters of a queue (or subscription) deliverable again, all or --id ones, deliveries counted afresh')
    .option('--id <id>', 'only this dead letter (repeatable)', collectRepeated, [])
    .action(async (exchange: string, queue: string | undefined, _options: unknown, command: Command) => {
      const flags = command.opts<InboxFlags & { id: string[] }>();
      await runClient(
        command,
        () => checkInboxTarget(exchange, queue, flags),
        async (connection, target) => {
          const { inbox, what } = await openInbox(connection, target);
          const redriven = await inbox.redrive(flags.id.length > 0 ? flags.id : undefined);
          await writeOut(`redrove ${redriven} dead letter(s) of ${what}\n`);
        },
      );
    });
}
