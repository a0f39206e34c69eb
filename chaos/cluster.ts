/**
 * The cluster under test: ZooKeeper, auth, one partitioner and the gateway on the lab's host
 * address, and N `node,replicator` processes each in its own namespace (lab.ts), listening on
 * its own address. Every process is a BrokerProcess (process.ts), stopped by its PID.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PartitionInfo, PartitionMap } from '../test/helpers/cluster';
import { registerUndo } from './cleanup';
import type { Lab } from './lab';
import { BrokerProcess } from './process';
import { startZooKeeper, type ChaosZooKeeper } from './zookeeper';

export type { PartitionInfo, PartitionMap };

export interface ChaosClusterOptions {
  lab: Lab;
  nodeIds: readonly string[];
  partitions: number;
  sessionTimeoutMs: number;
  replicaLagMaxMs: number;
  /** A node's data dir (a tmpfs the scenario fills); a new temp dir otherwise. */
  dataDirFor?: (nodeId: string) => string | undefined;
  logLevel?: 'debug' | 'info' | 'warn';
}

export class ChaosCluster {
  readonly nodes = new Map<string, BrokerProcess>();
  readonly adminPassword = `chaos-${randomBytes(9).toString('base64url')}`;
  readonly clusterSecret = randomBytes(18).toString('base64url');
  readonly zkRoot = `/mom-chaos-${randomBytes(4).toString('hex')}`;
  zk!: ChaosZooKeeper;
  auth!: BrokerProcess;
  partitioner!: BrokerProcess;
  gateway!: BrokerProcess;
  private readonly processes: BrokerProcess[] = [];

  private constructor(readonly options: ChaosClusterOptions) {}

  static async start(options: ChaosClusterOptions): Promise<ChaosCluster> {
    const cluster = new ChaosCluster(options);
    await cluster.startAll();
    return cluster;
  }

  private dir(id: string): string {
    const own = this.options.dataDirFor?.(id);
    if (own !== undefined) return own;
    const dir = mkdtempSync(join(tmpdir(), `mom-chaos-${id}-`));
    registerUndo(`data dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  private make(id: string, args: string[], prefix: string[] = [], env: Record<string, string> = {}): BrokerProcess {
    const dir = this.dir(id);
    const process = new BrokerProcess(id, dir, [...args, '--node-id', id, '--data', dir], { MOM_LOG_LEVEL: this.options.logLevel ?? 'info', MOM_CLUSTER_SECRET: this.clusterSecret, ...env }, prefix);
    this.processes.push(process);
    return process;
  }

  private async startAll(): Promise<void> {
    const { lab } = this.options;
    const host = lab.hostAddress;
    this.zk = await startZooKeeper(host);
    const shared = [
      '--zookeeper', this.zk.connectString,
      '--zk-root', this.zkRoot,
      '--zk-session-timeout-ms', String(this.options.sessionTimeoutMs),
      '--partitions', String(this.options.partitions),
      '--replication-factor', String(Math.min(3, this.options.nodeIds.length)),
      '--min-insync-replicas', '2',
    ];
    this.auth = this.make('auth-1', ['--role', 'auth', '--listen', `${host}:0`], [], { MOM_ADMIN_PASSWORD: this.adminPassword });
    this.partitioner = this.make('part-1', ['--role', 'partitioner', '--listen', `${host}:0`, ...shared]);
    await Promise.all([this.auth.start(), this.partitioner.start()]);
    for (const id of this.options.nodeIds) {
      const address = lab.address(id);
      const node = this.make(id, [
        '--role', 'node,replicator',
        '--listen', `${address}:0`,
        '--grpc', `${address}:0`,
        '--auth-url', this.auth.url,
        '--replica-lag-max-ms', String(this.options.replicaLagMaxMs),
        ...shared,
      ], lab.prefix(id));
      this.nodes.set(id, node);
    }
    await Promise.all([...this.nodes.values()].map((node) => node.start()));
    this.gateway = this.make('gw-1', [
      '--role', 'gateway',
      '--listen', `${host}:0`,
      '--partitioner-url', this.partitioner.url,
      '--auth-url', this.auth.url,
      '--zk-session-timeout-ms', String(this.options.sessionTimeoutMs),
    ]);
    await this.gateway.start();
  }

  node(id: string): BrokerProcess {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  async partitionMap(): Promise<PartitionMap> {
    const response = await fetch(`${this.partitioner.url}/partitions`, { signal: AbortSignal.timeout(3_000) });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`GET /partitions answered ${response.status}: ${text.slice(0, 200)}`);
    return JSON.parse(text) as PartitionMap;
  }

  /** What keeps the cluster from being healthy (every partition led by a running node, full ISR), or '' when nothing does. */
  problems(map: PartitionMap): string {
    const problems: string[] = [];
    const registered = new Map(map.nodes.map((n) => [n.id, n]));
    if (map.partitions.length !== this.options.partitions) problems.push(`${map.partitions.length} partitions in the map`);
    for (const node of this.nodes.values()) {
      if (node.running && registered.get(node.id)?.http !== node.url) problems.push(`${node.id} not registered at ${node.url}`);
    }
    for (const p of map.partitions) {
      const leader = p.leader === null ? undefined : this.nodes.get(p.leader);
      if (!leader?.running) problems.push(`p${p.partition}: leader ${p.leader}`);
      if (p.replicas.length === 0 || !p.replicas.every((r) => p.isr.includes(r))) problems.push(`p${p.partition}: isr ${p.isr.join(',')} of ${p.replicas.join(',')}`);
    }
    return problems.slice(0, 6).join('; ');
  }

  /** Waits until the cluster is healthy; returns the map. */
  async waitHealthy(timeoutMs: number): Promise<PartitionMap> {
    let last = 'no answer';
    return waitUntil(
      () => `a healthy cluster; still: ${last}`,
      async () => {
        const map = await this.partitionMap();
        last = this.problems(map);
        return last === '' ? map : undefined;
      },
      timeoutMs,
    );
  }

  /** The last lines of every process's log and of ZooKeeper's. */
  logTails(lines = 40): string {
    const parts = this.processes.map((p) => `--- ${p.id} (pid ${p.pid}, ${p.running ? 'running' : 'stopped'}) ---\n${p.tail(lines)}`);
    parts.push(`--- zookeeper ---\n${this.zk?.log().split('\n').slice(-15).join('\n') ?? ''}`);
    return parts.join('\n');
  }

  async close(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop('SIGKILL')));
    await this.zk?.stop();
  }
}

/** Calls `condition` until it returns a value (errors count as "not yet"), or fails naming `what`. */
export async function waitUntil<T>(what: string | (() => string), condition: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const described = typeof what === 'string' ? what : what();
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${described}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
