/**
 * Where a broker's latency tail comes from (issue 8 §2), measured inside the broker process:
 * `npm run bench -- --tail` starts `mombroker --role all` with `node --require` of this file.
 * It records, between two SIGUSR2 (the bench sends one when the latency phase's measured
 * window opens and one when it closes):
 *
 * - the event loop's delay (monitorEventLoopDelay at 1 ms resolution): how late a ready
 *   callback ran, which every message waiting on the loop pays;
 * - garbage-collection pauses, by kind (a PerformanceObserver of `gc` entries);
 * - the synchronous work that holds the loop: each group commit's transaction
 *   (GroupCommit.flush), compaction passes (NodeStore.compact, expireDedup), space reclaim
 *   (NodeStore.reclaimSpace), and the lease sweep; checkpoints run on a worker thread and
 *   cost the loop nothing directly, so they are only counted;
 * - the fsync hand-off: each fdatasync of the WAL from its call to its callback (the
 *   thread pool's queue and the disk).
 *
 * At the second signal it writes `tail-<pid>.json` into MOM_TAIL_PROBE_DIR. The wrappers
 * patch prototypes of the compiled modules this process loads from build/src (the same
 * files bin/mombroker requires), so the product carries no probe code.
 */
import fs from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver, performance, type EventLoopUtilization, type PerformanceEntry } from 'node:perf_hooks';

/** Durations of one kind of work, in ms. */
class Durations {
  count = 0;
  totalMs = 0;
  maxMs = 0;
  over1Ms = 0;
  over5Ms = 0;

  add(ms: number): void {
    this.count++;
    this.totalMs += ms;
    if (ms > this.maxMs) this.maxMs = ms;
    if (ms > 1) this.over1Ms++;
    if (ms > 5) this.over5Ms++;
  }

  toJSON(): Record<string, number> {
    const round = (n: number) => Math.round(n * 1000) / 1000;
    return { count: this.count, totalMs: round(this.totalMs), meanMs: round(this.count === 0 ? 0 : this.totalMs / this.count), maxMs: round(this.maxMs), over1Ms: this.over1Ms, over5Ms: this.over5Ms };
  }
}

/** The report written at the end of the window (read by bench/tail-report.ts). */
export interface TailProbeReport {
  pid: number;
  windowMs: number;
  /** Event loop delay percentiles in ms. */
  eventLoopDelayMs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  /** Share of the window the loop was busy (0..1). */
  eventLoopUtilization: number;
  gc: Record<string, ReturnType<Durations['toJSON']>>;
  work: Record<string, ReturnType<Durations['toJSON']>>;
}

const outDir = process.env.MOM_TAIL_PROBE_DIR;
const loop = monitorEventLoopDelay({ resolution: 1 });
let gc = new Map<string, Durations>();
let work = new Map<string, Durations>();
let recording = false;
let windowStart = 0;
let utilizationAtStart: EventLoopUtilization | undefined;

function record(map: Map<string, Durations>, name: string, ms: number): void {
  if (!recording) return;
  let durations = map.get(name);
  if (!durations) map.set(name, (durations = new Durations()));
  durations.add(ms);
}

const GC_KINDS: Record<number, string> = { 1: 'scavenge (young)', 2: 'mark-sweep-compact (full)', 4: 'incremental marking', 8: 'weak callbacks' };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail)?.kind ?? 0;
    record(gc, GC_KINDS[kind] ?? `kind ${kind}`, entry.duration);
  }
}).observe({ entryTypes: ['gc'] });

/** Replaces `proto[name]` by a timed call of the original (synchronous work only). */
function timeMethod(proto: Record<string, unknown>, name: string, label: string): void {
  const original = proto[name];
  if (typeof original !== 'function') throw new Error(`tail probe: ${label}: no method ${name} to time (was it renamed?)`);
  proto[name] = function timed(this: unknown, ...args: unknown[]): unknown {
    const started = performance.now();
    try {
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } finally {
      record(work, label, performance.now() - started);
    }
  };
}

// fdatasync is taken from node:fs when group-commit.js loads, after this preload: wrap it first.
const fdatasync = fs.fdatasync;
(fs as { fdatasync: typeof fs.fdatasync }).fdatasync = ((fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => {
  const started = performance.now();
  fdatasync(fd, (error) => {
    record(work, 'fdatasync of the WAL (call to callback)', performance.now() - started);
    callback(error);
  });
}) as typeof fs.fdatasync;

const src = join(__dirname, '..', 'src');
// The modules the broker will load, patched before it does.
const prototypeOf = (file: string, exported: string) => (require(join(src, file)) as Record<string, { prototype: Record<string, unknown> }>)[exported]!.prototype;
timeMethod(prototypeOf('store/group-commit.js', 'GroupCommit'), 'flush', 'group commit (one transaction)');
const store = prototypeOf('store/node-store.js', 'NodeStore');
timeMethod(store, 'compact', 'compaction pass (one partition)');
timeMethod(store, 'expireDedup', 'dedup expiry');
timeMethod(store, 'reclaimSpace', 'space reclaim (incremental vacuum)');
const maintenance = prototypeOf('roles/node/node-maintenance.js', 'NodeMaintenance');
timeMethod(maintenance, 'sweepLeases', 'lease sweep');
timeMethod(maintenance, 'checkpoint', 'checkpoint request (work on a worker thread)');

function report(): TailProbeReport {
  const ms = (ns: number) => Math.round(ns / 1e3) / 1e3;
  return {
    pid: process.pid,
    windowMs: Math.round(performance.now() - windowStart),
    eventLoopDelayMs: { p50: ms(loop.percentile(50)), p90: ms(loop.percentile(90)), p99: ms(loop.percentile(99)), p999: ms(loop.percentile(99.9)), max: ms(loop.max), mean: ms(loop.mean) },
    eventLoopUtilization: Math.round(performance.eventLoopUtilization(utilizationAtStart).utilization * 1000) / 1000,
    gc: Object.fromEntries([...gc].map(([name, d]) => [name, d.toJSON()])),
    work: Object.fromEntries([...work].map(([name, d]) => [name, d.toJSON()])),
  };
}

process.on('SIGUSR2', () => {
  if (!recording) {
    gc = new Map();
    work = new Map();
    loop.reset();
    loop.enable();
    utilizationAtStart = performance.eventLoopUtilization();
    windowStart = performance.now();
    recording = true;
    return;
  }
  recording = false;
  loop.disable();
  if (outDir) fs.writeFileSync(join(outDir, `tail-${process.pid}.json`), JSON.stringify(report()));
});
