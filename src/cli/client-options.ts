/**
 * What the client subcommands (publish, consume, declare, status) share: where the broker is
 * and who to log in as, and how a failure becomes an exit code (DESIGN §9).
 *
 * Each of url, user and password comes from the first of: the flag (`--url`, `--user`,
 * `--password` or `--password-stdin`), the environment (`MOM_URL`, `MOM_USER`,
 * `MOM_PASSWORD`), a MOM-py client config (`--client-config FILE`, else `./config.json` when
 * present: `API_SERVER_LOCATION` or `MOM_SERVER_LOCATION`, `USERNAME`, `PASSWORD`), a prompt
 * on the terminal for the password, and for the URL the default `http://127.0.0.1:8080`.
 * `--password` works but warns: `ps` shows a command line to every user of the machine.
 * For an https:// URL, `--ca FILE` (or `MOM_CA`) names the PEM CA that signed the server's
 * certificate, trusted instead of the system's CAs.
 *
 * Exit codes: 0 ok, 1 the server or the network failed, 2 usage or configuration.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CommanderError, type Command } from 'commander';
import { connect, isMomClientError, type Connection } from '../client';
import { isMomError, MomError } from '../core/errors';
import { passwordFromStdin, promptHidden } from './password-input';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

export interface ClientFlags {
  url?: string;
  user?: string;
  password?: string;
  passwordStdin?: boolean;
  clientConfig?: string;
  ca?: string;
}

export interface ClientSettings {
  url: string;
  user: string | undefined;
  password: string | undefined;
  /** PEM CA certificate(s) to trust for https:// (`--ca` or `MOM_CA`); absent: the system's CAs. */
  ca?: Buffer;
}

export interface ResolveSources {
  flags: ClientFlags;
  env: NodeJS.ProcessEnv;
  /** Where `./config.json` is looked for. */
  cwd: string;
}

/** A usage or configuration problem: exit code 2. */
export function usageError(message: string): MomError {
  return new MomError('config_invalid', message);
}

/** The MOM-py client config's values, or nothing when there is no file to read. */
function readClientConfig(flags: ClientFlags, cwd: string): { file: string; url?: string; user?: string; password?: string } | undefined {
  const explicit = flags.clientConfig !== undefined;
  const file = resolve(cwd, flags.clientConfig ?? 'config.json');
  if (!explicit && !existsSync(file)) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw usageError(`--client-config: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw usageError(`${file}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw usageError(`${file}: expected a JSON object`);
  const config = parsed as Record<string, unknown>;
  const stringKey = (key: string): string | undefined => {
    const value = config[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' || value === '') throw usageError(`${file}: ${key}: expected a non-empty string, got ${JSON.stringify(value)}`);
    return value;
  };
  return { file, url: stringKey('API_SERVER_LOCATION') ?? stringKey('MOM_SERVER_LOCATION'), user: stringKey('USERNAME'), password: stringKey('PASSWORD') };
}

/** `host:port` as MOM-py configs often have it becomes `http://host:port`; the result must be an http(s) URL. */
export function normalizeUrl(raw: string, from: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw usageError(`${from}: expected a URL like http://127.0.0.1:8080, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`${from}: expected an http:// or https:// URL, got ${JSON.stringify(raw)}`);
  return withScheme.replace(/\/+$/, '');
}

/** Resolves url, user and password; with `requireCredentials`, a missing user or password is a usage error. */
export function resolveClientSettings(sources: ResolveSources, requireCredentials = true): ClientSettings {
  const { flags, env } = sources;
  const fromEnv = (name: string): string | undefined => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  const config = readClientConfig(flags, sources.cwd);
  const pick = (flag: string | undefined, envName: string, configValue: string | undefined, flagName: string, configKey: string) => {
    if (flag !== undefined) return { value: flag, from: flagName };
    const envValue = fromEnv(envName);
    if (envValue !== undefined) return { value: envValue, from: envName };
    if (configValue !== undefined) return { value: configValue, from: `${config!.file}: ${configKey}` };
    return undefined;
  };
  const url = pick(flags.url, 'MOM_URL', config?.url, '--url', 'API_SERVER_LOCATION');
  const user = pick(flags.user, 'MOM_USER', config?.user, '--user', 'USERNAME')?.value;
  const password = pick(flags.password, 'MOM_PASSWORD', config?.password, '--password', 'PASSWORD')?.value;
  if (requireCredentials && (user === undefined || password === undefined)) {
    const missing = [user === undefined ? 'user (--user, MOM_USER or USERNAME)' : '', password === undefined ? 'password (--password, MOM_PASSWORD or PASSWORD)' : '']
      .filter(Boolean)
      .join(' and ');
    throw usageError(`no ${missing}: give it as a flag, in the environment, or in a client config (--client-config FILE, or ./config.json)`);
  }
  const ca = pick(flags.ca, 'MOM_CA', undefined, '--ca', '');
  return { url: url === undefined ? DEFAULT_URL : normalizeUrl(url.value, url.from), user, password, ...(ca ? { ca: readCaFile(ca.value, ca.from, sources.cwd) } : {}) };
}

/** The PEM CA file of `--ca` or `MOM_CA`; unreadable or not a certificate is a usage error naming it. */
function readCaFile(path: string, from: string, cwd: string): Buffer {
  const file = resolve(cwd, path);
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (error) {
    throw usageError(`${from}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    new X509Certificate(pem);
  } catch {
    throw usageError(`${from}: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return pem;
}

/** Adds `--url --user --password --client-config` and exit code 2 for usage errors. */
export function clientCommand(parent: Command, name: string): Command {
  return parent
    .command(name)
    .option('--url <url>', `broker or gateway URL [env MOM_URL, default ${DEFAULT_URL}]`)
    .option('--user <name>', 'user to log in as [env MOM_USER]')
    .option('--password <password>', 'password; visible to other users in ps, prefer MOM_PASSWORD, --password-stdin or the prompt [env MOM_PASSWORD]')
    .option('--password-stdin', 'read the password from the first line of stdin (for publish, messages may follow on the next lines)')
    .option('--client-config <file>', 'MOM-py client config JSON (API_SERVER_LOCATION, USERNAME, PASSWORD) [default ./config.json if present]')
    .option('--ca <file>', 'PEM CA certificate that signed the server\'s (for https:// URLs), trusted instead of the system\'s CAs [env MOM_CA]')
    .exitOverride(usageExit);
}

/** Commander's own errors (missing argument, unknown option) exit with 2; help and version with 0. */
export function usageExit(error: CommanderError): never {
  if (error.exitCode === 0) throw error;
  throw new CommanderError(2, error.code, error.message);
}

export interface RunOptions {
  /** Log in (default true); status without a queue needs no credentials. */
  credentials?: boolean;
}

/**
 * Checks the arguments (`prepare`, before any request), resolves the settings, connects,
 * runs `body`, closes the connection, and turns a failure into `mombroker: <message> (<code>)`
 * on stderr with exit code 1 (server, network) or 2 (usage, configuration).
 */
export async function runClient<T>(
  command: Command,
  prepare: () => T,
  body: (connection: Connection, input: T, settings: ClientSettings) => Promise<void>,
  options: RunOptions = {},
): Promise<void> {
  let connection: Connection | undefined;
  try {
    const input = prepare();
    const credentials = options.credentials ?? true;
    const settings = await resolveCredentials(command.opts<ClientFlags>(), credentials);
    const trust = settings.ca ? { ca: settings.ca } : {};
    connection = await connect(credentials ? { url: settings.url, user: settings.user, password: settings.password, ...trust } : { url: settings.url, ...trust });
    await body(connection, input, settings);
  } catch (error) {
    report(error);
  } finally {
    await connection?.close().catch(report);
  }
}

/**
 * The settings with the password from wherever it comes (see the top of this file): the flag
 * (with a warning), stdin, the environment, the client config, or a prompt on a terminal.
 */
async function resolveCredentials(flags: ClientFlags, credentials: boolean): Promise<ClientSettings> {
  if (flags.password !== undefined && flags.passwordStdin) throw usageError('--password and --password-stdin: give the password one way only');
  if (flags.password !== undefined) {
    process.stderr.write('mombroker: warning: --password shows the password to every user of this machine (ps, /proc); use MOM_PASSWORD, --password-stdin or the prompt instead\n');
  }
  const fromStdin = credentials && flags.passwordStdin ? await passwordFromStdin() : undefined;
  const given: ClientFlags = fromStdin === undefined ? flags : { ...flags, password: fromStdin };
  const sources = { flags: given, env: process.env, cwd: process.cwd() };
  const canPrompt = credentials && process.stdin.isTTY === true && process.stderr.isTTY === true;
  const settings = resolveClientSettings(sources, credentials && !canPrompt);
  if (!canPrompt || settings.password !== undefined) return settings;
  if (settings.user === undefined) return resolveClientSettings(sources, true); // the usual "no user" error
  return { ...settings, password: await promptHidden(`password for ${settings.user} at ${settings.url}: `) };
}

export function report(error: unknown): void {
  let code = 'internal';
  let exitCode = 1;
  if (isMomClientError(error)) {
    code = error.code;
    if (code === 'invalid_argument') exitCode = 2;
  } else if (isMomError(error)) {
    code = error.code;
    if (code === 'config_invalid') exitCode = 2;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`mombroker: ${message} (${code})\n`);
  process.exitCode = exitCode;
}

/** Writes to stdout, waiting when the pipe is full. */
export function writeOut(text: string): Promise<void> {
  return new Promise<void>((resolveWrite, reject) => {
    process.stdout.write(text, (error) => (error ? reject(error) : resolveWrite()));
  });
}

/** An integer flag value within bounds, or a usage error naming the flag. */
export function integerOption(value: string | undefined, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const number = /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max) throw usageError(`${flag}: expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return number;
}

/** For a repeatable option: each value is added to the list. */
export function collectRepeated(value: string, previous: string[]): string[] {
  return [...previous, value];
}
