import type { Command } from 'commander';
import { MomError } from '../core/errors';
import { assertValidName } from '../core/names';
import { UserDatabase, type UserRecord } from '../store/user-database';
import { promptHidden, readFirstLine } from './password-input';

/**
 * `mombroker users add|remove|list|passwd|grant|revoke` (DESIGN §7, §9): edits the auth role's
 * SQLite user database directly, so it works with the broker running or not. Passwords never
 * travel in argv: they come from one line of stdin (`--password-stdin`) or a hidden TTY prompt.
 */
export function registerUsersCommand(program: Command): void {
  const users = program.command('users').description('manage users and their grants (works while the broker runs)');
  const dataHelp = 'data directory [env MOM_DATA, default ./mom-data]';

  users
    .command('add')
    .description('add a user')
    .argument('<name>', 'user name')
    .option('--admin', 'may do everything on every exchange')
    .option('--password-stdin', 'read the password from the first line of stdin')
    .option('--data <dir>', dataHelp)
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<{ admin?: boolean; passwordStdin?: boolean; data?: string }>();
      await withDatabase(opts.data, true, async (db) => {
        // Fail on a bad or taken name before asking for a password.
        assertValidName('user', name);
        if (db.principal(name)) throw new MomError('conflict', `user ${name} already exists; use "users passwd" to change its password`);
        await db.addUser(name, await readNewPassword(opts.passwordStdin === true), { admin: opts.admin === true });
      });
      console.log(`added user ${name}${opts.admin ? ' (admin)' : ''}`);
    });

  users
    .command('remove')
    .description('remove a user and its grants')
    .argument('<name>', 'user name')
    .option('--data <dir>', dataHelp)
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<{ data?: string }>();
      await withDatabase(opts.data, false, (db) => db.removeUser(name));
      console.log(`removed user ${name}`);
    });

  users
    .command('list')
    .description('list users and their grants')
    .option('--json', 'print JSON instead of a table')
    .option('--data <dir>', dataHelp)
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<{ json?: boolean; data?: string }>();
      const list = await withDatabase(opts.data, false, (db) => db.listUsers());
      if (opts.json) {
        console.log(JSON.stringify(list.map(toJson), null, 2));
      } else {
        console.log(formatTable(list));
      }
    });

  users
    .command('passwd')
    .description("change a user's password")
    .argument('<name>', 'user name')
    .option('--password-stdin', 'read the password from the first line of stdin')
    .option('--data <dir>', dataHelp)
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<{ passwordStdin?: boolean; data?: string }>();
      await withDatabase(opts.data, false, async (db) => {
        // Fail on an unknown user before asking for a password.
        if (!db.principal(name)) throw new MomError('not_found', `no user named ${JSON.stringify(name)}`);
        await db.setPassword(name, await readNewPassword(opts.passwordStdin === true));
      });
      console.log(`changed the password of ${name}; tokens already issued stay valid until they expire`);
    });

  users
    .command('grant')
    .description('allow actions on exchanges matching a pattern (merged with existing grants)')
    .argument('<name>', 'user name')
    .requiredOption('--exchange <pattern>', 'exchange name or glob: logs, logs.*, *')
    .requiredOption('--allow <actions>', 'comma-separated: publish,consume,configure')
    .option('--data <dir>', dataHelp)
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<{ exchange: string; allow: string; data?: string }>();
      const grant = await withDatabase(opts.data, false, (db) => db.grant(name, opts.exchange, opts.allow.split(',')));
      console.log(`${name} may ${grant.actions.join(', ')} on exchanges matching ${grant.exchange}`);
    });

  users
    .command('revoke')
    .description('remove the grant on one exchange pattern')
    .argument('<name>', 'user name')
    .requiredOption('--exchange <pattern>', 'the pattern exactly as granted')
    .option('--data <dir>', dataHelp)
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<{ exchange: string; data?: string }>();
      await withDatabase(opts.data, false, (db) => db.revoke(name, opts.exchange));
      console.log(`revoked the grant of ${name} on ${opts.exchange}`);
    });
}

function dataDir(flag: string | undefined): string {
  if (flag !== undefined && flag !== '') return flag;
  const fromEnv = process.env.MOM_DATA;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : './mom-data';
}

async function withDatabase<T>(flag: string | undefined, create: boolean, use: (db: UserDatabase) => T | Promise<T>): Promise<T> {
  const db = new UserDatabase(dataDir(flag), { create });
  try {
    return await use(db);
  } finally {
    db.close();
  }
}

function toJson(user: UserRecord): Record<string, unknown> {
  return { id: user.id, username: user.username, admin: user.admin, created_at: user.createdAt, grants: user.grants };
}

function formatTable(list: UserRecord[]): string {
  if (list.length === 0) return 'no users';
  const rows = [
    ['ID', 'USER', 'ADMIN', 'GRANTS'],
    ...list.map((user) => [
      String(user.id),
      user.username,
      user.admin ? 'yes' : 'no',
      user.grants.map((grant) => `${grant.exchange}:${grant.actions.join(',')}`).join(' ') || '-',
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ')).join('\n');
}

async function readNewPassword(fromStdin: boolean): Promise<string> {
  if (fromStdin) {
    const password = await readFirstLine(process.stdin);
    if (password === undefined || password === '') {
      throw new MomError('bad_request', '--password-stdin: stdin had no password line');
    }
    return password;
  }
  if (!process.stdin.isTTY) {
    throw new MomError('bad_request', 'no terminal to ask for a password: pipe it with --password-stdin (e.g. printf "%s\\n" "$PW" | mombroker users add NAME --password-stdin)');
  }
  const first = await promptHidden('password: ');
  const second = await promptHidden('password again: ');
  if (first !== second) throw new MomError('bad_request', 'the two passwords differ; nothing changed');
  return first;
}
