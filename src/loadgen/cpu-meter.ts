/**
 * Where the machine's CPU went during a measured window: the broker processes (from
 * /proc/PID/stat), this load generator (process.cpuUsage), and everything else (the
 * machine's busy time from /proc/stat minus both), as average cores used. On a shared
 * 2-core machine "other" says how much the numbers were disturbed. Linux only; elsewhere
 * the figures are absent.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export interface CpuShare {
  /** Average cores busy over the window (1.0 = one core all the time). */
  broker: number;
  /** CPU seconds the broker's processes used in the window (not rounded: for CPU per message). */
  brokerSeconds: number;
  generator: number;
  other: number;
  /** Cores busy in total, and cores in the machine. */
  machine: number;
  cores: number;
}

/** Kernel clock ticks per second: USER_HZ, 100 on every Linux architecture Node runs on. */
const TICKS_PER_SECOND = 100;

interface Snapshot {
  at: number;
  brokerTicks: number;
  generatorMicros: number;
  machineBusyTicks: number;
  cores: number;
}

function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

function machineTicks(): { busy: number; cores: number } | undefined {
  try {
    const lines = readFileSync('/proc/stat', 'utf8').split('\n');
    const total = lines[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice; guests are inside user.
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = total;
    const cores = lines.filter((line) => /^cpu\d+ /.test(line)).length;
    return { busy: user + nice + system + irq + softirq + steal, cores };
  } catch {
    return undefined;
  }
}

/** CPU per message in µs: `cpuSeconds` spent on `messages` messages; undefined without messages. */
export function cpuMicrosPerMessage(cpuSeconds: number, messages: number): number | undefined {
  if (!(messages > 0) || !Number.isFinite(cpuSeconds) || cpuSeconds < 0) return undefined;
  return (cpuSeconds * 1e6) / messages;
}

export class CpuMeter {
  private start: Snapshot | undefined;

  constructor(private readonly brokerPids: () => number[]) {}

  private snapshot(): Snapshot | undefined {
    const machine = machineTicks();
    if (machine === undefined) return undefined;
    const usage = process.cpuUsage();
    let brokerTicks = 0;
    for (const pid of this.brokerPids()) brokerTicks += processTicks(pid);
    return { at: performance.now(), brokerTicks, generatorMicros: usage.user + usage.system, machineBusyTicks: machine.busy, cores: machine.cores };
  }

  begin(): void {
    this.start = this.snapshot();
  }

  /** Average cores used since begin(); undefined where /proc is not available. */
  end(): CpuShare | undefined {
    const start = this.start;
    const end = this.snapshot();
    if (start === undefined || end === undefined) return undefined;
    const seconds = (end.at - start.at) / 1000;
    if (!(seconds > 0)) return undefined;
    const broker = (end.brokerTicks - start.brokerTicks) / TICKS_PER_SECOND / seconds;
    const generator = (end.generatorMicros - start.generatorMicros) / 1e6 / seconds;
    const machine = (end.machineBusyTicks - start.machineBusyTicks) / TICKS_PER_SECOND / seconds;
    const round = (x: number) => Math.round(x * 100) / 100;
    return { broker: round(broker), brokerSeconds: (end.brokerTicks - start.brokerTicks) / TICKS_PER_SECOND, generator: round(generator), other: round(Math.max(0, machine - broker - generator)), machine: round(machine), cores: end.cores };
  }
}
