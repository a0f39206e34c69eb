/**
 * One peer server process (a RabbitMQ node, a NATS server, epmd) started by the benchmark:
 * in its own process group, so a Ctrl-C in the terminal reaches only the benchmark, which then
 * stops its servers in order; its output kept for error messages; stopped by its PID only
 * while it is still our child that has not exited (never by name), with SIGTERM and then
 * SIGKILL after a grace period.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { installSignalHandlers, killPid, live, OutputTail, type LiveEntry } from '../processes';

export interface ServerProcessOptions {
  /** For messages: `rabbitmq-1`, `nats-2`, `epmd`. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  onOutput?: (line: string) => void;
  /** How long SIGTERM may take before SIGKILL. */
  stopGraceMs?: number;
}

export class ServerProcess {
  readonly name: string;
  readonly pid: number;
  private readonly child: ChildProcess;
  private readonly output: OutputTail;
  private readonly exit: Promise<void>;
  private exited = false;
  private exitCode: number | string | null = null;
  private stopping: Promise<void> | undefined;
  private readonly entry: LiveEntry;
  private readonly stopGraceMs: number;

  constructor(options: ServerProcessOptions) {
    installSignalHandlers();
    this.name = options.name;
    this.stopGraceMs = options.stopGraceMs ?? 15_000;
    this.output = new OutputTail(16_000, options.onOutput === undefined ? undefined : (line) => options.onOutput!(`${options.name}: ${line}`));
    this.child = spawn(options.command, options.args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.exit = new Promise<void>((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exited = true;
        this.exitCode = code ?? signal;
        resolve();
      });
      this.child.once('error', (error) => {
        this.output.add(`spawn ${options.command} failed: ${error.message}\n`);
        this.exited = true;
        resolve();
      });
    });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      stream!.setEncoding('utf8');
      stream!.on('data', (chunk: string) => this.output.add(chunk));
    }
    this.pid = this.child.pid ?? -1;
    this.entry = { close: () => this.stop(), closeNow: () => this.killNow() };
    live.add(this.entry);
  }

  get running(): boolean {
    return !this.exited && this.pid > 0;
  }

  /** Why it is not running, for error messages. */
  describeExit(): string {
    return `${this.name} (pid ${this.pid}) exited (${String(this.exitCode)}); its last output:\n${this.recentOutput().slice(-3000)}`;
  }

  recentOutput(): string {
    return this.output.toString();
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves once it exited. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.running) {
        killPid(this.pid, 'SIGTERM');
        const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), this.stopGraceMs).unref());
        if ((await Promise.race([this.exit.then(() => 'exited' as const), timer])) === 'timeout' && this.running) killPid(this.pid, 'SIGKILL');
        await this.exit;
      }
      live.delete(this.entry);
    })();
    return this.stopping;
  }

  private killNow(): void {
    if (this.running) killPid(this.pid, 'SIGKILL');
  }
}

/** `count` distinct free TCP ports on 127.0.0.1 (held together while picking, so they differ). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('freePorts: no TCP address');
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/**
 * Retries `attempt` until it resolves, `deadlineMs` passes (then rejects with its last error),
 * or one of `processes` exits (then rejects naming it).
 */
export async function waitUntil<T>(what: string, attempt: () => Promise<T>, deadlineMs: number, processes: ServerProcess[] = []): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  let lastError: unknown;
  for (;;) {
    const dead = processes.find((p) => !p.running);
    if (dead !== undefined) throw new Error(`${what}: ${dead.describeExit()}`);
    try {
      return await attempt();
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not ready within ${deadlineMs} ms (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
