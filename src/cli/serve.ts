import type { Command } from 'commander';
import { loadConfig } from '../config/load';
import { SETTINGS, type BrokerConfig } from '../config/settings';
import type { BrokerProcess } from '../roles/broker-process';
import { Logger, parseLogLevel } from '../runtime/logger';

function camelCase(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** The root command runs the broker: `mombroker --role all --data DIR --listen host:port`. */
export function registerServeOptions(program: Command): void {
  program.option('--config <file>', 'JSON config file (see config.example.json)');
  for (const setting of SETTINGS) {
    program.option(`--${setting.flag} <value>`, `${setting.description} [env ${setting.env}]`);
  }
  program.action(async (options: Record<string, unknown>) => {
    const flags: Partial<Record<keyof BrokerConfig, unknown>> = {};
    for (const setting of SETTINGS) {
      const value = options[camelCase(setting.flag)];
      if (value !== undefined) flags[setting.key] = value;
    }
    const config = loadConfig({ flags, env: process.env, file: options.config as string | undefined });
    await serve(config);
  });
}

const SHUTDOWN_DEADLINE_MS = 9_000;
/** Exit code after a failed fdatasync (a supervisor should restart the process). */
const FATAL_EXIT_CODE = 3;

async function serve(config: BrokerConfig): Promise<void> {
  const logger = new Logger(parseLogLevel(config.logLevel)).child({ node: config.nodeId });
  logNodeWarnings(logger);
  // Handlers go in before start-up, so a signal during it still ends in an orderly exit 0.
  let broker: BrokerProcess | undefined;
  let stopSignal: string | undefined;
  const stop = (signal: string) => {
    if (stopSignal) return;
    stopSignal = signal;
    logger.info('shutting down', { signal });
    // A hung close must not keep the process past the deadline DESIGN §8 promises.
    const deadline = setTimeout(() => {
      logger.error('shutdown deadline passed; exiting', { deadlineMs: SHUTDOWN_DEADLINE_MS });
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    if (!broker) return; // start-up sees the signal and closes what it started
    closeAndExit(broker, logger);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Everything the broker writes is private (DESIGN §7). The stores also set 0600/0700 themselves;
  // the umask covers any file a library creates on its own.
  process.umask(0o077);
  // Loaded here so client subcommands start without loading the server.
  const { startBrokerProcess } = await import('../roles/broker-process');
  broker = await startBrokerProcess(config, logger, {
    onFatal: (error) => {
      logger.error('the disk failed to sync written data; exiting so that a restart recovers from what the disk holds', { error, exitCode: FATAL_EXIT_CODE });
      process.exit(FATAL_EXIT_CODE);
    },
  });
  if (stopSignal) closeAndExit(broker, logger);
}

function closeAndExit(broker: BrokerProcess, logger: Logger): void {
  broker
    .close()
    .then(() => {
      logger.info('stopped');
      process.exit(0);
    })
    .catch((error: unknown) => {
      logger.error('shutdown failed', { error });
      process.exit(1);
    });
}

/**
 * Node's own warnings go to the log as JSON lines like everything else, not as free text on
 * stderr. Deprecations are for developers (e.g. DEP0123: gRPC over TLS to an IP address names
 * the IP as the TLS server name), so they are debug; other warnings are warn.
 */
function logNodeWarnings(logger: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error & { code?: string }) => {
    const fields = { name: warning.name, code: warning.code, warning: warning.message };
    if (warning.name === 'DeprecationWarning') logger.debug('node.js deprecation warning', fields);
    else logger.warn('node.js warning', fields);
  });
}
