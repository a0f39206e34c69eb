/**
 * The processes the benchmark starts (mombroker, RabbitMQ, NATS, epmd): a registry of what is
 * running, so that every one of them is stopped — by its PID, never by name — on close, on
 * SIGINT/SIGTERM and, as a last resort, synchronously at process exit; and the small helpers
 * that signal and wait for PIDs.
 */

export interface LiveEntry {
  /** Synchronous last resort (process exit): SIGKILL and remove temp dirs. */
  closeNow: () => void;
  /** The orderly stop. */
  close: () => Promise<void>;
}

/** Everything started and not yet closed. */
export const live = new Set<LiveEntry>();
let signalHandlersInstalled = false;
let interruptedBy: NodeJS.Signals | undefined;

/** The signal that asked the benchmark to stop, if one did: start no new phase after it. */
export function interrupted(): NodeJS.Signals | undefined {
  return interruptedBy;
}
/** How long a signal handler waits for orderly stops before exiting anyway (then 'exit' kills). */
const SIGNAL_STOP_DEADLINE_MS = 20_000;

export function installSignalHandlers(): void {
  if (signalHandlersInstalled) return;
  signalHandlersInstalled = true;
  const onSignal = (signal: NodeJS.Signals) => {
    interruptedBy = signal;
    process.stderr.write(`\nbench: ${signal}: stopping the brokers it started and removing their temp dirs\n`);
    const closing = [...live].map((entry) => entry.close().catch(() => entry.closeNow()));
    const deadline = setTimeout(() => process.exit(130), SIGNAL_STOP_DEADLINE_MS);
    deadline.unref();
    void Promise.allSettled(closing).then(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.on('exit', () => {
    for (const entry of live) entry.closeNow();
  });
}

/** Keeps the last `limit` characters written by a process. */
export class OutputTail {
  private text = '';
  constructor(
    private readonly limit = 16_000,
    private readonly onLine?: (line: string) => void,
  ) {}

  add(chunk: string): void {
    if (this.onLine) for (const line of chunk.split('\n')) if (line.trim() !== '') this.onLine(line);
    this.text = (this.text + chunk).slice(-this.limit);
  }

  toString(): string {
    return this.text;
  }
}

export function killPid(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitForExit(pids: number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isAlive)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}
