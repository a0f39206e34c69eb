/**
 * `mombroker bench` on a terminal: one line on stderr, redrawn a few times a second, with the
 * phase, a bar of its planned time, and the messages published and consumed so far. Only
 * when stderr is a TTY: piped or redirected, bench prints its JSON lines and nothing else.
 */
import type { LiveCounts, ObserveRun } from '../loadgen/progress';

const REDRAW_MS = 250;
const BAR_WIDTH = 24;
/** Erase the line and go back to its start (ANSI CSI 2K). */
const CLEAR_LINE = '\r\x1b[2K';

export interface ProgressState {
  phase: string;
  elapsedMs: number;
  totalMs: number;
  counts: LiveCounts | undefined;
}

/** `throughput  [#########-----]  4.2/12.0 s  published 51,200  consumed 50,900`. Pure. */
export function progressLine(state: ProgressState, barWidth = BAR_WIDTH): string {
  const fraction = state.totalMs > 0 ? Math.min(1, Math.max(0, state.elapsedMs / state.totalMs)) : 1;
  const filled = Math.round(fraction * barWidth);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}]`;
  const time = `${(Math.min(state.elapsedMs, state.totalMs) / 1000).toFixed(1)}/${(state.totalMs / 1000).toFixed(1)} s`;
  const counts = state.counts ? `  published ${group(state.counts.published)}  consumed ${group(state.counts.consumed)}` : '';
  return `${state.phase}  ${bar}  ${time}${counts}`;
}

function group(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Draws the line for one phase at a time on `out` (a terminal). */
export class ProgressDisplay {
  private timer: NodeJS.Timeout | undefined;
  private read: (() => LiveCounts) | undefined;

  constructor(private readonly out: NodeJS.WritableStream) {}

  /** A display on stderr when it is a terminal; none otherwise. */
  static forStderr(): ProgressDisplay | undefined {
    return process.stderr.isTTY ? new ProgressDisplay(process.stderr) : undefined;
  }

  /** Starts drawing `phase`, expected to take `totalMs`; hand the result to the run's `observe`. */
  start(phase: string, totalMs: number): ObserveRun {
    this.stop();
    const startedAt = Date.now();
    this.read = undefined;
    const draw = () => this.out.write(CLEAR_LINE + progressLine({ phase, elapsedMs: Date.now() - startedAt, totalMs, counts: this.read?.() }));
    draw();
    this.timer = setInterval(draw, REDRAW_MS);
    return (read) => {
      this.read = read;
    };
  }

  /** Erases the line, so that what is printed next starts clean. Idempotent. */
  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.out.write(CLEAR_LINE);
  }
}
