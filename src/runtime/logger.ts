/**
 * Structured logs: one JSON object per line on stderr, with a level. Stdout stays free for
 * commands whose output is data (`users list`, `consume`). Debug is off unless asked for
 * (`MOM_LOG_LEVEL=debug`), and disabled levels cost one comparison.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, unknown>;

export interface LogSink {
  write(line: string): void;
}

const stderrSink: LogSink = { write: (line) => process.stderr.write(line) };

export class Logger {
  private readonly rank: number;

  constructor(
    readonly level: LogLevel = 'info',
    private readonly bindings: LogFields = {},
    private readonly sink: LogSink = stderrSink,
  ) {
    this.rank = LEVEL_RANK[level];
  }

  child(bindings: LogFields): Logger {
    return new Logger(this.level, { ...this.bindings, ...bindings }, this.sink);
  }

  debug(msg: string, fields?: LogFields): void {
    if (this.rank <= LEVEL_RANK.debug) this.emit('debug', msg, fields);
  }

  info(msg: string, fields?: LogFields): void {
    if (this.rank <= LEVEL_RANK.info) this.emit('info', msg, fields);
  }

  warn(msg: string, fields?: LogFields): void {
    if (this.rank <= LEVEL_RANK.warn) this.emit('warn', msg, fields);
  }

  error(msg: string, fields?: LogFields): void {
    if (this.rank <= LEVEL_RANK.error) this.emit('error', msg, fields);
  }

  private emit(level: LogLevel, msg: string, fields: LogFields | undefined): void {
    const record: LogFields = { time: new Date().toISOString(), level, msg, ...this.bindings };
    if (fields) {
      for (const [key, value] of Object.entries(fields)) {
        record[key] = value instanceof Error ? describeError(value) : value;
      }
    }
    this.sink.write(`${JSON.stringify(record)}\n`);
  }
}

function describeError(error: Error): LogFields {
  const code = (error as { code?: unknown }).code;
  return { name: error.name, message: error.message, ...(code === undefined ? {} : { code }) };
}

export function parseLogLevel(value: string | undefined, fallback: LogLevel = 'info'): LogLevel {
  if (value === undefined || value === '') return fallback;
  if (value in LEVEL_RANK) return value as LogLevel;
  throw new Error(`log level: expected one of ${Object.keys(LEVEL_RANK).join(', ')}, got "${value}"`);
}

/** A logger that drops everything, for tests and library users who bring their own. */
export const silentLogger = new Logger('silent');
