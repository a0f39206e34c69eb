/**
 * Starts the real `mombroker` executable for tests: a temp data dir, port 0 on loopback,
 * a known admin password, and the URL read from the "listening" log line. Every process is
 * stopped by its PID when the test ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestContext } from 'node:test';
import type { Dispatcher } from 'undici';

export const REPO_ROOT = resolve(__dirname, '..', '..', '..');
export const MOMBROKER_BIN = join(REPO_ROOT, 'bin', 'mombroker');

export interface BrokerOptions {
  /** Extra CLI args, e.g. ['--fsync', 'never']. */
  args?: string[];
  env?: Record<string, string>;
  /** Reuse a data dir (restarts); a fresh temp dir otherwise. */
  dataDir?: string;
  /** Listen address; defaults to 127.0.0.1:0. */
  listen?: string;
  /** Start under this umask (octal, e.g. '000'), through /bin/sh; the process's own otherwise. */
  umask?: string;
  /** Working directory; defaults to the data dir (which must then exist). */
  cwd?: string;
}

export interface RunningBroker {
  url: string;
  dataDir: string;
  adminPassword: string;
  pid: number;
  child: ChildProcess;
  /** Everything the process wrote to stderr so far (structured log lines). */
  stderr(): string;
  /** Sends a signal and waits for exit; resolves the exit code (or the signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
  /** A new process on the same data dir and the same port. */
  restart(extra?: BrokerOptions): Promise<RunningBroker>;
}

const START_TIMEOUT_MS = 30_000;

export function tempDir(prefix = 'mom-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startBroker(t: TestContext, options: BrokerOptions = {}): Promise<RunningBroker> {
  const dataDir = options.dataDir ?? tempDir();
  const ownsDir = options.dataDir === undefined;
  const adminPassword = options.env?.MOM_ADMIN_PASSWORD ?? `test-${randomBytes(9).toString('base64url')}`;
  const broker = await spawnBroker({ ...options, dataDir, env: { MOM_ADMIN_PASSWORD: adminPassword, ...options.env } }, adminPassword);
  t.after(async () => {
    await broker.stop('SIGKILL');
    if (ownsDir) rmSync(dataDir, { recursive: true, force: true });
  });
  return wrapRestart(t, broker, options);
}

function wrapRestart(t: TestContext, broker: RunningBroker, options: BrokerOptions): RunningBroker {
  broker.restart = async (extra: BrokerOptions = {}) => {
    await broker.stop('SIGKILL');
    const port = new URL(broker.url).port;
    const next = await spawnBroker(
      { ...options, ...extra, dataDir: broker.dataDir, listen: `127.0.0.1:${port}`, env: { MOM_ADMIN_PASSWORD: broker.adminPassword, ...options.env, ...extra.env } },
      broker.adminPassword,
    );
    t.after(() => next.stop('SIGKILL'));
    return wrapRestart(t, next, options);
  };
  return broker;
}

async function spawnBroker(options: BrokerOptions & { dataDir: string }, adminPassword: string): Promise<RunningBroker> {
  const args = [MOMBROKER_BIN, '--role', 'all', '--data', options.dataDir, '--listen', options.listen ?? '127.0.0.1:0', ...(options.args ?? [])];
  // `exec` keeps the PID: the shell becomes the broker.
  const [command, argv] = options.umask === undefined ? [process.execPath, args] : ['/bin/sh', ['-c', `umask ${options.umask} && exec "$0" "$@"`, process.execPath, ...args]];
  const child = spawn(command, argv, {
    cwd: options.cwd ?? options.dataDir,
    env: { ...process.env, MOM_LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let exited: number | string | undefined;
  const exitPromise = new Promise<number | string>((resolveExit) => {
    child.on('exit', (code, signal) => {
      exited = code ?? signal ?? 'unknown';
      resolveExit(exited);
    });
  });
  child.stdout!.on('data', () => {});
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start within ${START_TIMEOUT_MS} ms; stderr:\n${stderr}`)), START_TIMEOUT_MS);
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const match = /"msg":"listening"[^\n]*"url":"(https?:\/\/[^"]+)"/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolveUrl(match[1]!);
      }
    });
    void exitPromise.then((code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited (${code}) before listening; stderr:\n${stderr}`));
    });
  });
  const broker: RunningBroker = {
    url,
    dataDir: options.dataDir,
    adminPassword,
    pid: child.pid!,
    child,
    stderr: () => stderr,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (exited !== undefined) return exited;
      child.kill(signal);
      return exitPromise;
    },
    restart: () => Promise.reject(new Error('restart is set by startBroker')),
  };
  return broker;
}

/** Logs in over HTTP and returns a bearer token; `dispatcher` for HTTPS with a test CA (helpers/tls.ts). */
export async function login(url: string, user: string, pass: string, dispatcher?: Dispatcher): Promise<string> {
  const response = await fetch(`${url}/auth`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, pass }), ...withDispatcher(dispatcher) });
  if (response.status !== 200) throw new Error(`login as ${user} failed: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

/**
 * fetch() options that send a request through `dispatcher` (an undici Agent trusting a test CA):
 * Node's fetch takes undici's dispatchers, which its own RequestInit type does not name.
 */
export function withDispatcher(dispatcher: Dispatcher | undefined): RequestInit {
  return dispatcher ? ({ dispatcher } as unknown as RequestInit) : {};
}
