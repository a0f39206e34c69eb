/**
 * One process of the real `mombroker` executable for tests, started again and again on the
 * same arguments and data dir: it is up once it logs "listening" (whose `url`, and `grpc` for
 * a replicator, give its addresses; port 0 means they change on every start), its stderr (JSON
 * log lines) is kept across restarts, and it is stopped by its PID. Children still running
 * when the test process exits are killed by PID, never by name.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { MOMBROKER_BIN, REPO_ROOT } from './broker';

/** What a test sees of a managed process (a cluster's nodes, partitioners, auth, gateway). */
export interface ClusterProcess {
  /** `node-1`, `part-1`, `auth-1`, `gw-1`. */
  readonly id: string;
  /** HTTP base URL of the current process (changes on restart). */
  readonly url: string;
  /** gRPC `host:port` of a node's replicator (changes on restart); undefined for other roles. */
  readonly grpc: string | undefined;
  readonly pid: number;
  readonly dataDir: string;
  /** Whether the current process is alive (not exited, not stopped by the test). */
  readonly running: boolean;
  /** Sends `signal` (default SIGKILL) and waits for the process to exit. Idempotent. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Sends a signal without waiting (SIGSTOP / SIGCONT). */
  signal(signal: NodeJS.Signals): void;
  /** Stops the process if it runs, then starts it again with the same arguments and data dir. */
  restart(): Promise<void>;
  /** Everything it wrote to stderr so far, over all its restarts. */
  log(): string;
}

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const MAX_LOG_LINES = 20_000;

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

export class ManagedProcess implements ClusterProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private alive = false;
  private currentUrl = '';
  private currentGrpc: string | undefined;
  private readonly lines: string[] = [];
  private partial = '';

  /** `args` follow `mombroker`; `env` is added to this process's environment without its MOM_* variables. */
  constructor(
    readonly id: string,
    readonly dataDir: string,
    private readonly args: string[],
    private readonly env: Record<string, string>,
  ) {}

  get url(): string {
    return this.currentUrl;
  }
  get grpc(): string | undefined {
    return this.currentGrpc;
  }
  get pid(): number {
    return this.child?.pid ?? -1;
  }
  get running(): boolean {
    return this.alive;
  }

  /** Starts the process; resolves once it logs "listening", rejects if it exits first or takes 30 s. */
  async start(): Promise<void> {
    assert.ok(!this.alive, `${this.id} is already running`);
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith('MOM_')) env[key] = value;
    const child = spawn(process.execPath, [MOMBROKER_BIN, ...this.args], {
      cwd: REPO_ROOT,
      env: { ...env, ...this.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    this.alive = true;
    running.add(child);
    this.note(`--- started pid ${child.pid}: mombroker ${this.args.join(' ')}`);
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        running.delete(child);
        if (this.child === child) this.alive = false;
        this.flushPartial();
        this.note(`--- pid ${child.pid} exited (${code ?? signal})`);
        resolve();
      });
      child.once('error', (error) => {
        running.delete(child);
        if (this.child === child) this.alive = false;
        this.note(`--- spawn error: ${error.message}`);
        resolve();
      });
    });
    const watch = watchForListening(this.id, this.exited, () => this.tail(40), START_TIMEOUT_MS);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      const text = this.partial + chunk;
      const parts = text.split('\n');
      this.partial = parts.pop()!;
      for (const line of parts) {
        this.push(line);
        watch.line(line);
      }
    });
    const at = await watch.listening;
    this.currentUrl = at.url;
    this.currentGrpc = at.grpc;
  }

  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !this.alive || child.pid === undefined) return this.exited;
    this.note(`--- test sends ${signal} to pid ${child.pid}`);
    this.alive = false;
    child.kill(signal);
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  signal(signal: NodeJS.Signals): void {
    const child = this.child;
    assert.ok(child && this.alive, `${this.id} is not running`);
    this.note(`--- test sends ${signal} to pid ${child.pid}`);
    child.kill(signal);
  }

  async restart(): Promise<void> {
    await this.stop('SIGKILL');
    await this.start();
  }

  log(): string {
    return this.lines.join('\n');
  }

  /** The last `count` lines of its log, each cut at 600 characters. */
  tail(count: number): string {
    return this.lines
      .slice(-count)
      .map((line) => (line.length > 600 ? `${line.slice(0, 600)}…` : line))
      .join('\n');
  }

  private note(text: string): void {
    this.push(`${new Date().toISOString()} ${text}`);
  }

  private push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > MAX_LOG_LINES) this.lines.splice(0, this.lines.length - MAX_LOG_LINES);
  }

  private flushPartial(): void {
    if (this.partial !== '') this.push(this.partial);
    this.partial = '';
  }
}

/** A broker's `"msg":"listening"` log record: where it serves (and, for a node, its gRPC address). */
export interface ListeningAt {
  url: string;
  grpc?: string;
}

export interface ListeningWatch {
  /** Fed every stderr line of the process; does nothing once the watch has settled. */
  line(line: string): void;
  /** Resolves with the listening record; rejects past `timeoutMs`, or when the process exits first. */
  readonly listening: Promise<ListeningAt>;
}

/** Waits for a broker process to say where it listens (used by these tests and the fault suite). */
export function watchForListening(id: string, exited: Promise<void>, tail: () => string, timeoutMs: number): ListeningWatch {
  let settle: (outcome: ListeningAt | Error) => void = () => {};
  const listening = new Promise<ListeningAt>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => settle(new Error(`${id} did not log "listening" within ${timeoutMs} ms:\n${tail()}`)), timeoutMs);
    settle = (outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
  });
  void exited.then(() => settle(new Error(`${id} exited before listening:\n${tail()}`)));
  return {
    listening,
    line(line) {
      if (!line.includes('"msg":"listening"')) return;
      try {
        const record = JSON.parse(line) as { url?: unknown; grpc?: unknown };
        if (typeof record.url === 'string') settle({ url: record.url, ...(typeof record.grpc === 'string' ? { grpc: record.grpc } : {}) });
      } catch {
        // Not a log record after all: keep waiting.
      }
    },
  };
}
