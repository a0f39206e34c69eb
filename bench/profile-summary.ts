/**
 * Summarizes a V8 `.cpuprofile` (from `node --cpu-prof`): self time per function and per
 * source file, as milliseconds and as a share of the busy (non-idle) time.
 *
 *   node build/bench/profile-summary.js FILE.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  where: string;
  selfMs: number;
  /** Share of the busy time (everything but `(idle)`), in percent. */
  percentOfBusy: number;
}

/** A stretch of consecutive non-idle samples: the event loop did not get back to polling. */
export interface BusyStretch {
  ms: number;
  /** The function with the most self time in the stretch, and that time. */
  top: string;
  topMs: number;
}

export interface ProfileSummary {
  file?: string;
  durationMs: number;
  idleMs: number;
  busyMs: number;
  topFunctions: SelfTime[];
  topFiles: SelfTime[];
  /** How often the main thread stayed busy for long (what a latency tail is made of). */
  stretches: { over5ms: number; over10ms: number; over20ms: number; longest: BusyStretch[] };
}

function shortUrl(url: string, root: string): string {
  if (url === '') return '';
  const path = url.startsWith('file://') ? new URL(url).pathname : url;
  if (path.startsWith('node:')) return path;
  const modules = path.lastIndexOf('/node_modules/');
  if (modules >= 0) return path.slice(modules + 1);
  return path.startsWith('/') ? relative(root, path) : path;
}

/**
 * Self time per function: each sample's time delta is charged to the node it was taken in
 * (the next delta is the time until the next sample, V8's own convention).
 */
export function summarizeProfile(profile: CpuProfile, options: { top?: number; root?: string } = {}): ProfileSummary {
  const top = options.top ?? 20;
  const root = options.root ?? process.cwd();
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const selfById = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time before sample i; charge sample i with the time until the next one.
    const us = i + 1 < deltas.length ? deltas[i + 1]! : 0;
    selfById.set(samples[i]!, (selfById.get(samples[i]!) ?? 0) + Math.max(0, us));
  }
  const byFunction = new Map<string, { name: string; where: string; us: number }>();
  const byFile = new Map<string, number>();
  let idleUs = 0;
  let totalUs = 0;
  for (const [id, us] of selfById) {
    totalUs += us;
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) continue;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const file = shortUrl(frame.url, root);
    const where = file === '' ? '' : `${file}:${frame.lineNumber + 1}`;
    const name = frame.functionName || '(anonymous)';
    const key = `${name}\0${where}`;
    const entry = byFunction.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
    const fileKey = file === '' ? name : file;
    byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + us);
  }
  const busyUs = totalUs - idleUs;
  const share = (us: number) => (busyUs > 0 ? (100 * us) / busyUs : 0);
  const topFunctions = [...byFunction.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((entry) => ({ name: entry.name, where: entry.where, selfMs: entry.us / 1000, percentOfBusy: share(entry.us) }));
  const topFiles = [...byFile.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([file, us]) => ({ name: file, where: '', selfMs: us / 1000, percentOfBusy: share(us) }));
  const stretches = busyStretches(profile, byId, root);
  const count = (ms: number) => stretches.filter((stretch) => stretch.ms > ms).length;
  return {
    durationMs: (profile.endTime - profile.startTime) / 1000,
    idleMs: idleUs / 1000,
    busyMs: busyUs / 1000,
    topFunctions,
    topFiles,
    stretches: { over5ms: count(5), over10ms: count(10), over20ms: count(20), longest: stretches.slice(0, Math.min(top, 10)) },
  };
}

/** Consecutive non-idle samples, longest first, each named by its heaviest function. */
function busyStretches(profile: CpuProfile, byId: Map<number, ProfileNode>, root: string): BusyStretch[] {
  const stretches: BusyStretch[] = [];
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let lengthUs = 0;
  let selfUs = new Map<number, number>();
  const close = () => {
    if (lengthUs === 0) return;
    let topId = -1;
    let topUs = -1;
    for (const [id, us] of selfUs) {
      if (us > topUs) {
        topId = id;
        topUs = us;
      }
    }
    const frame = byId.get(topId)?.callFrame;
    const file = frame ? shortUrl(frame.url, root) : '';
    const top = frame ? `${frame.functionName || '(anonymous)'}${file ? ` ${file}:${frame.lineNumber + 1}` : ''}` : '?';
    stretches.push({ ms: lengthUs / 1000, top, topMs: topUs / 1000 });
    lengthUs = 0;
    selfUs = new Map();
  };
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i]!;
    if (byId.get(id)?.callFrame.functionName === '(idle)') {
      close();
      continue;
    }
    const us = Math.max(0, i + 1 < deltas.length ? deltas[i + 1]! : 0);
    lengthUs += us;
    selfUs.set(id, (selfUs.get(id) ?? 0) + us);
  }
  close();
  return stretches.sort((a, b) => b.ms - a.ms);
}

export function readProfile(path: string): CpuProfile {
  return JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
}

export function formatProfileSummary(summary: ProfileSummary): string {
  const lines: string[] = [];
  lines.push(
    `${summary.file ?? 'profile'}: ${(summary.durationMs / 1000).toFixed(1)} s, busy ${(summary.busyMs / 1000).toFixed(1)} s (${((100 * summary.busyMs) / Math.max(1, summary.durationMs)).toFixed(0)}% of the main thread), idle ${(summary.idleMs / 1000).toFixed(1)} s`,
  );
  lines.push('  top self time by function (% of busy time):');
  for (const f of summary.topFunctions) lines.push(`    ${f.percentOfBusy.toFixed(1).padStart(5)}%  ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.name}${f.where ? `  ${f.where}` : ''}`);
  const st = summary.stretches;
  lines.push(`  main thread busy without a break: ${st.over5ms} times > 5 ms, ${st.over10ms} > 10 ms, ${st.over20ms} > 20 ms; longest:`);
  for (const stretch of st.longest) lines.push(`    ${stretch.ms.toFixed(1).padStart(7)} ms  (${stretch.topMs.toFixed(1)} ms in ${stretch.top})`);
  lines.push('  top self time by file:');
  for (const f of summary.topFiles) lines.push(`    ${f.percentOfBusy.toFixed(1).padStart(5)}%  ${f.selfMs.toFixed(0).padStart(7)} ms  ${f.name}`);
  return lines.join('\n');
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const topIndex = args.indexOf('--top');
  const top = topIndex >= 0 ? Number(args.splice(topIndex, 2)[1]) : 25;
  if (args.length === 0 || !(top > 0)) {
    process.stderr.write('usage: node build/bench/profile-summary.js FILE.cpuprofile... [--top N]\n');
    process.exit(2);
  }
  for (const file of args) {
    const summary = { ...summarizeProfile(readProfile(file), { top }), file };
    process.stdout.write(formatProfileSummary(summary) + '\n');
  }
}
