/**
 * `mombroker dead-letters EXCHANGE QUEUE` (or `--topic T [--subscription S]`): prints the dead
 * letters as JSON lines, oldest first (`{"id","payload","headers","published_at","deliveries",
 * "reason","cursor"}`), every one or the first `--max`. With `--delete`: deletes them (all, or
 * the `--id` ones) instead and says how many (needs configure).
 */
import type { Command } from 'commander';
import { clientCommand, collectRepeated, integerOption, runClient, usageError, writeOut } from './client-options';
import { checkInboxTarget, openInbox, withInboxOptions, type InboxFlags } from './inbox-target';

interface DeadLetterFlags extends InboxFlags {
  max?: string;
  delete?: boolean;
  id: string[];
}

/** Dead letters asked for per request while listing. */
const PAGE = 1000;

export function registerDeadLettersCommand(program: Command): void {
  withInboxOptions(clientCommand(program, 'dead-letters'))
    .description('list the dead letters of a queue (or subscription) as JSON lines, or delete them with --delete')
    .option('--max <n>', 'list at most this many (default: all)')
    .option('--delete', 'delete the dead letters (all, or the --id ones) instead of listing them')
    .option('--id <id>', 'with --delete: only this dead letter (repeatable)', collectRepeated, [])
    .action(async (exchange: string, queue: string | undefined, _options: unknown, command: Command) => {
      const flags = command.opts<DeadLetterFlags>();
      await runClient(
        command,
        () => {
          if (flags.id.length > 0 && !flags.delete) throw usageError('--id goes with --delete (to redrive some, use mombroker redrive --id)');
          if (flags.max !== undefined && flags.delete) throw usageError('--max goes with listing, not with --delete');
          return { target: checkInboxTarget(exchange, queue, flags), max: integerOption(flags.max, '--max', 1) ?? Number.POSITIVE_INFINITY };
        },
        async (connection, { target, max }) => {
          const { inbox, what } = await openInbox(connection, target);
          if (flags.delete) {
            const deleted = await inbox.deleteDeadLetters(flags.id.length > 0 ? flags.id : undefined);
            await writeOut(`deleted ${deleted} dead letter(s) of ${what}\n`);
            return;
          }
          let after: number | undefined;
          for (let printed = 0; printed < max; ) {
            const wanted = Math.min(PAGE, max - printed);
            const page = await inbox.deadLetters({ max: wanted, after });
            for (const letter of page) await writeOut(`${JSON.stringify(letter)}\n`);
            printed += page.length;
            if (page.length < wanted) break;
            after = page[page.length - 1]!.cursor;
          }
        },
      );
    });
}
