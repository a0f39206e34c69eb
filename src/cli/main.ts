import { Command, CommanderError } from 'commander';
import { isMomError } from '../core/errors';
import { registerConsumeCommand } from './consume';
import { registerDeadLettersCommand } from './dead-letters';
import { registerDeclareCommand } from './declare';
import { registerPublishCommand } from './publish';
import { registerPurgeCommand } from './purge';
import { registerListCommands } from './queues';
import { registerRedriveCommand } from './redrive';
import { registerServeOptions } from './serve';
import { registerStatusCommand } from './status';
import { registerBenchCommand } from './bench';
import { registerUsersCommand } from './users';

export const VERSION = '0.1.0';

export function buildProgram(): Command {
  const program = new Command('mombroker')
    .description('mombroker: queues and topics over HTTP, replicated over gRPC, coordinated by ZooKeeper')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)');
  registerServeOptions(program);
  registerUsersCommand(program);
  registerPublishCommand(program);
  registerConsumeCommand(program);
  registerDeclareCommand(program);
  registerStatusCommand(program);
  registerListCommands(program);
  registerPurgeCommand(program);
  registerRedriveCommand(program);
  registerDeadLettersCommand(program);
  registerBenchCommand(program);
  return program;
}

export function main(argv: string[]): void {
  const program = buildProgram();
  program.exitOverride();
  program.parseAsync(argv).catch((error: unknown) => {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    const code = isMomError(error) ? error.code : 'internal';
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`mombroker: ${message} (${code})\n`);
    process.exitCode = isMomError(error) && error.code === 'config_invalid' ? 2 : 1;
  });
}
