/**
 * The broker the benchmark drives, always in other processes than the load generator:
 *
 * - single: `mombroker --role all` on a fresh temp data dir, port 0 on loopback; the URL is
 *   read from its `"msg":"listening"` log line.
 * - cluster: `scripts/cluster.sh up --nodes N` under a temp MOM_CLUSTER_DIR; the gateway URL
 *   is read from its `gateway: URL` line; `scripts/cluster.sh down` at the end.
 *
 * Processes are stopped by their PID only (the child we spawned, or the pid files the
 * cluster script wrote in our own temp dir), and temp dirs are removed, on close(), on
 * SIGINT/SIGTERM and, as a last resort, synchronously at process exit.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { installSignalHandlers, killPid, live, OutputTail, waitForExit } from './processes';

/** The idle-streams phase opens its streams as one user: above the per-user default of 128. */
const BENCH_LIMITS = { MOM_MAX_LONG_POLLS_PER_USER: '5000' };

export const REPO_ROOT = resolve(__dirname, '..', '..');
const MOMBROKER_BIN = join(REPO_ROOT, 'bin', 'mombroker');
const CLUSTER_SCRIPT = join(REPO_ROOT, 'scripts', 'cluster.sh');

const START_TIMEOUT_MS = 30_000;
const CLUSTER_START_TIMEOUT_MS = 180_000;
/** With --cpu-prof the broker must exit by itself (SIGTERM) to write its profile. */
const GRACEFUL_STOP_MS = 15_000;
/** tmpfs ignores fsync: a number measured there says nothing about durability. */
const TMPFS_MAGIC = 0x01021994;

export type FsyncPolicy = 'always' | 'batch' | 'never';

export interface BrokerUnderTestOptions {
  /** 0 or 1: one `--role all` process; N ≥ 2: a local cluster of N nodes. */
  nodes: number;
  fsync: FsyncPolicy;
  /** Run the broker's node processes with --cpu-prof, profiles written to this dir. */
  cpuProfileDir?: string;
  /** Single node: preload bench/tail-probe.ts, reports written to this dir (see tail-probe.ts). */
  tailProbeDir?: string;
  /** Called with lines the broker or cluster script wrote (for --verbose). */
  onOutput?: (line: string) => void;
}

export interface BrokerUnderTest {
  /** Where the SDK connects: the broker itself, or the cluster's gateway. */
  url: string;
  user: string;
  password: string;
  /** The auth role's own URL, when it is not `url` (a cluster). */
  authUrl?: string;
  /** Set by the bench when it had to log in at authUrl. */
  token?: string;
  nodes: number;
  /** PIDs of the broker processes, for reports and profiling. */
  pids: number[];
  /** What each pid runs (`broker`, or the cluster script's names: node-1, gateway, …). */
  processNames: Record<number, string>;
  /** The temp dir holding the data (single) or the cluster dir. */
  dir: string;
  /** The filesystem the data lives on, and whether fsync means anything there. */
  filesystem: { type: string; fsyncIsReal: boolean };
  /** Last lines the broker wrote to stderr (for error messages). */
  recentOutput(): string;
  /** Stops every process and removes the temp dir. Idempotent. */
  close(): Promise<void>;
}

export async function startBrokerUnderTest(options: BrokerUnderTestOptions): Promise<BrokerUnderTest> {
  installSignalHandlers();
  return options.nodes >= 2 ? startCluster(options) : startSingle(options);
}

function filesystemOf(dir: string): { type: string; fsyncIsReal: boolean } {
  try {
    const type = statfsSync(dir).type;
    return { type: `0x${type.toString(16)}`, fsyncIsReal: type !== TMPFS_MAGIC };
  } catch {
    return { type: 'unknown', fsyncIsReal: true };
  }
}

function adminPassword(): string {
  return `bench-${randomBytes(12).toString('base64url')}`;
}

async function startSingle(options: BrokerUnderTestOptions): Promise<BrokerUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'mom-bench-'));
  const password = adminPassword();
  const nodeFlags: string[] = [];
  if (options.cpuProfileDir !== undefined) {
    mkdirSync(options.cpuProfileDir, { recursive: true });
    nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`);
  }
  if (options.tailProbeDir !== undefined) nodeFlags.push('--require', join(__dirname, 'tail-probe.js'));
  const args = [...nodeFlags, MOMBROKER_BIN, '--role', 'all', '--data', join(dir, 'data'), '--listen', '127.0.0.1:0', '--fsync', options.fsync];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: dir,
    env: { ...process.env, MOM_ADMIN_PASSWORD: password, MOM_LOG_LEVEL: 'info', ...BENCH_LIMITS, ...(options.tailProbeDir !== undefined ? { MOM_TAIL_PROBE_DIR: options.tailProbeDir } : {}) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const output = new OutputTail(16_000, options.onOutput);
  let exited = false;
  const exit = new Promise<void>((resolveExit) => {
    child.once('exit', () => {
      exited = true;
      resolveExit();
    });
  });
  let closed = false;
  const closeNow = () => {
    if (!exited && child.pid !== undefined) killPid(child.pid, 'SIGKILL');
    if (!closed) rmSync(dir, { recursive: true, force: true });
    closed = true;
  };
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      if (!exited && child.pid !== undefined) {
        // The profile is written only on a normal exit: ask, then insist.
        if (options.cpuProfileDir !== undefined) {
          killPid(child.pid, 'SIGTERM');
          await Promise.race([exit, new Promise((r) => setTimeout(r, GRACEFUL_STOP_MS))]);
        }
        if (!exited) {
          killPid(child.pid, 'SIGKILL');
          await exit;
        }
      }
      rmSync(dir, { recursive: true, force: true });
      closed = true;
      live.delete(entry);
    })();
    return closing;
  };
  const entry = { closeNow, close };
  live.add(entry);

  try {
    let buffered = '';
    const url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`the broker did not listen within ${START_TIMEOUT_MS} ms; stderr:\n${output}`)), START_TIMEOUT_MS);
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (chunk: string) => {
        output.add(chunk);
        buffered += chunk;
        const match = /"msg":"listening"[^\n]*"url":"(http:\/\/[^"]+)"/.exec(buffered);
        if (match) {
          clearTimeout(timer);
          buffered = '';
          resolveUrl(match[1]!);
        } else {
          buffered = buffered.slice(-4096);
        }
      });
      void exit.then(() => {
        clearTimeout(timer);
        reject(new Error(`the broker exited before listening; stderr:\n${output}`));
      });
    });
    return {
      url,
      user: 'admin',
      password,
      nodes: 1,
      pids: [child.pid!],
      processNames: { [child.pid!]: 'broker' },
      dir,
      filesystem: filesystemOf(dir),
      recentOutput: () => output.toString(),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Whether scripts/cluster.sh exists yet (another change adds it). */
export function clusterScriptAvailable(): boolean {
  return existsSync(CLUSTER_SCRIPT);
}

/** PIDs and names from the pid files the cluster script keeps in `$MOM_CLUSTER_DIR/pids/NAME.pid`. */
function clusterProcesses(dir: string): Record<number, string> {
  const pidsDir = join(dir, 'pids');
  const processes: Record<number, string> = {};
  if (!existsSync(pidsDir)) return processes;
  for (const file of readdirSync(pidsDir)) {
    try {
      const pid = Number.parseInt(readFileSync(join(pidsDir, file), 'utf8').trim(), 10);
      if (Number.isSafeInteger(pid) && pid > 1) processes[pid] = file.replace(/\.pid$/, '');
    } catch {
      // A pid file removed while we read: that process is gone.
    }
  }
  return processes;
}

function clusterPids(dir: string): number[] {
  return Object.keys(clusterProcesses(dir)).map(Number);
}

/**
 * --cpu-prof is refused in NODE_OPTIONS, so the cluster script gets a `node` (MOM_NODE) that
 * adds it to the mombroker processes it starts, not to its own `node -e` helpers.
 */
function profilingNode(dir: string, profileDir: string): string {
  const path = join(dir, 'node-with-cpu-prof.sh');
  const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
  writeFileSync(
    path,
    ['#!/bin/sh', `if [ "$1" = "-e" ]; then exec ${quote(process.execPath)} "$@"; fi`, `exec ${quote(process.execPath)} --cpu-prof --cpu-prof-dir=${quote(profileDir)} "$@"`, ''].join('\n'),
  );
  chmodSync(path, 0o755);
  return path;
}

async function startCluster(options: BrokerUnderTestOptions): Promise<BrokerUnderTest> {
  if (!clusterScriptAvailable()) throw new Error(`--cluster needs ${CLUSTER_SCRIPT}, which is not there yet`);
  const dir = mkdtempSync(join(tmpdir(), 'mom-bench-cluster-'));
  const password = adminPassword();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MOM_CLUSTER_DIR: dir,
    MOM_ADMIN_PASSWORD: password,
    MOM_FSYNC: options.fsync,
    ...BENCH_LIMITS,
  };
  // Outside the cluster dir, which the script populates itself.
  let wrapperDir: string | undefined;
  if (options.cpuProfileDir !== undefined) {
    mkdirSync(options.cpuProfileDir, { recursive: true });
    wrapperDir = mkdtempSync(join(tmpdir(), 'mom-bench-node-'));
    env.MOM_NODE = profilingNode(wrapperDir, resolve(options.cpuProfileDir));
  }
  const removeDirs = () => {
    rmSync(dir, { recursive: true, force: true });
    if (wrapperDir !== undefined) rmSync(wrapperDir, { recursive: true, force: true });
  };
  const output = new OutputTail(16_000, options.onOutput);
  let pids: number[] = [];
  let closed = false;
  const down = () => spawnSync('bash', [CLUSTER_SCRIPT, 'down'], { env, cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, encoding: 'utf8' });
  const closeNow = () => {
    if (closed) return;
    closed = true;
    for (const pid of new Set([...pids, ...clusterPids(dir)])) killPid(pid, 'SIGKILL');
    removeDirs();
  };
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      if (closed) return;
      const known = new Set([...pids, ...clusterPids(dir)]);
      const result = down();
      if (result.stdout) output.add(result.stdout);
      if (result.stderr) output.add(result.stderr);
      // The script stops by SIGTERM, so profiles get written; whatever is left is killed.
      if (!(await waitForExit([...known], GRACEFUL_STOP_MS))) for (const pid of known) killPid(pid, 'SIGKILL');
      await waitForExit([...known], 5_000);
      closed = true;
      removeDirs();
      live.delete(entry);
    })();
    return closing;
  };
  const entry = { closeNow, close };
  live.add(entry);

  try {
    const child = spawn('bash', [CLUSTER_SCRIPT, 'up', '--nodes', String(options.nodes)], { env, cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    let stdout = '';
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      output.add(chunk);
    });
    child.stderr.on('data', (chunk: string) => output.add(chunk));
    const code = await new Promise<number | string>((resolveExit, reject) => {
      const timer = setTimeout(() => {
        if (child.pid !== undefined) killPid(child.pid, 'SIGKILL');
        reject(new Error(`scripts/cluster.sh up did not finish within ${CLUSTER_START_TIMEOUT_MS} ms; output:\n${output}`));
      }, CLUSTER_START_TIMEOUT_MS);
      child.once('exit', (exitCode, signal) => {
        clearTimeout(timer);
        resolveExit(exitCode ?? signal ?? 'unknown');
      });
    });
    pids = clusterPids(dir);
    if (code !== 0) throw new Error(`scripts/cluster.sh up --nodes ${options.nodes} failed (${code}); output:\n${output}`);
    const match = /^gateway:\s*(https?:\/\/\S+)/m.exec(stdout);
    if (!match) throw new Error(`scripts/cluster.sh up printed no "gateway: URL" line; output:\n${output}`);
    const auth = /^auth:\s*(https?:\/\/\S+)/m.exec(stdout);
    return {
      url: match[1]!.replace(/\/+$/, ''),
      user: 'admin',
      password,
      authUrl: auth?.[1]?.replace(/\/+$/, ''),
      nodes: options.nodes,
      pids,
      processNames: clusterProcesses(dir),
      dir,
      filesystem: filesystemOf(dir),
      recentOutput: () => output.toString(),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
