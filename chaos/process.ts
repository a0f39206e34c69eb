/**
 * One process of the real `mombroker` executable, started (and started again) on the same
 * arguments and data dir, optionally inside a node's network namespace (`ip netns exec NS`
 * execs the program, so the PID we hold is the broker's own). It is up once it logs
 * "listening"; its log lines are kept across restarts; it is signalled by that PID only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { watchForListening } from '../test/helpers/managed-process';
import { registerUndo } from './cleanup';

export const REPO_ROOT = resolve(__dirname, '..', '..');
export const MOMBROKER_BIN = join(REPO_ROOT, 'bin', 'mombroker');

const START_TIMEOUT_MS = 40_000;
const STOP_TIMEOUT_MS = 10_000;
const MAX_LOG_LINES = 20_000;

export class BrokerProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private alive = false;
  private currentUrl = '';
  private readonly lines: string[] = [];
  private partial = '';
  private forget: (() => void) | undefined;

  constructor(
    readonly id: string,
    readonly dataDir: string,
    private readonly args: string[],
    private readonly env: Record<string, string>,
    /** e.g. `['ip', 'netns', 'exec', 'mom-…-node-1']`; empty to run in this namespace. */
    private readonly prefix: string[] = [],
  ) {}

  get url(): string {
    return this.currentUrl;
  }
  get pid(): number {
    return this.child?.pid ?? -1;
  }
  get running(): boolean {
    return this.alive;
  }

  async start(): Promise<void> {
    if (this.alive) throw new Error(`${this.id} is already running`);
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith('MOM_')) env[key] = value;
    const command = [...this.prefix, process.execPath, MOMBROKER_BIN, ...this.args];
    const child = spawn(command[0]!, command.slice(1), { cwd: REPO_ROOT, env: { ...env, ...this.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    this.alive = true;
    const pid = child.pid;
    this.forget = pid === undefined ? undefined : registerUndo(`${this.id} (pid ${pid})`, () => killQuietly(pid, 'SIGKILL'));
    this.note(`--- started pid ${pid}: ${command.slice(this.prefix.length > 0 ? 0 : 1).join(' ')}`);
    this.exited = new Promise<void>((resolveExit) => {
      const done = (what: string) => {
        if (this.child === child) this.alive = false;
        if (this.partial !== '') this.push(this.partial);
        this.partial = '';
        this.note(`--- pid ${pid} ${what}`);
        resolveExit();
      };
      child.once('exit', (code, signal) => done(`exited (${code ?? signal})`));
      child.once('error', (error) => done(`could not start: ${error.message}`));
    });
    const watch = watchForListening(this.id, this.exited, () => this.tail(30), START_TIMEOUT_MS);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop()!;
      for (const line of parts) {
        this.push(line);
        watch.line(line);
      }
    });
    const at = await watch.listening;
    this.currentUrl = at.url;
  }

  /** Sends `signal` (default SIGKILL) and waits for the exit (SIGKILL after 10 s). Idempotent. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !this.alive || child.pid === undefined) return this.exited;
    const pid = child.pid;
    this.note(`--- chaos sends ${signal} to pid ${pid}`);
    this.alive = false;
    killQuietly(pid, signal);
    // A stopped process would not act on SIGTERM.
    if (signal !== 'SIGKILL') killQuietly(pid, 'SIGCONT');
    const timer = setTimeout(() => killQuietly(pid, 'SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
    this.forget?.();
    this.forget = undefined;
  }

  /** SIGSTOP / SIGCONT, without waiting. */
  signal(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (!this.alive || pid === undefined) throw new Error(`${this.id} is not running`);
    this.note(`--- chaos sends ${signal} to pid ${pid}`);
    killQuietly(pid, signal);
  }

  async restart(): Promise<void> {
    await this.stop('SIGKILL');
    await this.start();
  }

  log(): string {
    return this.lines.join('\n');
  }

  tail(count: number): string {
    return this.lines
      .slice(-count)
      .map((line) => (line.length > 500 ? `${line.slice(0, 500)}…` : line))
      .join('\n');
  }

  /** Log lines (JSON records) whose `msg` matches. */
  records(msg: RegExp): Array<Record<string, unknown>> {
    const found: Array<Record<string, unknown>> = [];
    for (const line of this.lines) {
      if (!line.startsWith('{')) continue;
      try {
        const record = JSON.parse(line) as Record<string, unknown>;
        if (typeof record.msg === 'string' && msg.test(record.msg)) found.push(record);
      } catch {
        // not a log record
      }
    }
    return found;
  }

  private note(text: string): void {
    this.push(`${new Date().toISOString()} ${text}`);
  }

  private push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > MAX_LOG_LINES) this.lines.splice(0, this.lines.length - MAX_LOG_LINES);
  }
}

export function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
