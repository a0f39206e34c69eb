/**
 * A whole mombroker cluster for tests, as separate processes of the real executable
 * (DESIGN §1): a real ZooKeeper (./zookeeper.ts), one auth, one or more partitioners, N
 * `node,replicator` processes and one gateway, all on loopback with port 0.
 *
 * `startCluster(t, options)` returns once every partition has a leader and a full ISR.
 * Each process's stderr (JSON log lines) is kept; when the test or one of its subtests fails,
 * the last lines of every process and of ZooKeeper are printed (MOM_TEST_CLUSTER_LOGS=N
 * prints N lines each even when it passes). Every process is stopped by its PID when the
 * test ends (and, as a last resort, when the test process exits).
 *
 * A node's `restart()` starts a new process on the same data dir and node id; its ports may
 * change, and it registers again in ZooKeeper (waiting for its old session to end).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { partitionOf } from '../../src/core/hash';
import { ReplicationClient, type FetchRequest, type FetchResponse } from '../../src/gen/mom/replication/v1/replication';
import { CLUSTER_SECRET_HEADER } from '../../src/replication/replication-server';
import { MOMBROKER_BIN, REPO_ROOT, login, tempDir } from './broker';
import { waitFor } from './wait';
import { Api, type WireMessage } from './http-api';
import { startProxy, startZooKeeper, type TcpProxy, type ZooKeeperServer } from './zookeeper';

export interface ClusterOptions {
  /** Broker nodes (`node,replicator` processes); default 3. */
  nodes?: number;
  /** Partition count; default 8. */
  partitions?: number;
  /** Partitioner processes; default 1. The first one is started alone and becomes the controller. */
  partitioners?: number;
  /** Default min(3, nodes). */
  replicationFactor?: number;
  /** `--min-insync-replicas`; default 2. */
  minIsr?: number;
  /** `--zk-session-timeout-ms` of every process; default 4000 (the broker takes 2000..60000; the fixture's 200 ms tickTime lets ZooKeeper grant it). */
  sessionTimeoutMs?: number;
  /** `--replica-lag-max-ms` of the nodes; default 4000. */
  replicaLagMaxMs?: number;
  /** `--gateway-retry-deadline-ms`; default 10000 (the broker's default). */
  gatewayRetryDeadlineMs?: number;
  /** Which partitioner (index) the gateway reads its map from; default 0. */
  gatewayPartitioner?: number;
  /** More flags for every node. */
  extraNodeArgs?: string[];
  /** Nodes that reach ZooKeeper through their own cuttable TCP proxy (see `Cluster.zkProxies`). */
  zkProxyFor?: string[];
  /** MOM_LOG_LEVEL of every process; default info. */
  logLevel?: 'debug' | 'info' | 'warn';
  /** A node's data dir (e.g. a small tmpfs the test fills); default a new temp dir, removed at the end. */
  nodeDataDir?: (nodeId: string) => string | undefined;
}

/** One entry of `GET /partitions` (DESIGN §6). */
export interface PartitionInfo {
  partition: number;
  leader: string | null;
  node_location: string | null;
  replicas: string[];
  isr: string[];
  leader_epoch: number;
}

export interface NodeRegistration {
  id: string;
  http: string;
  grpc: string;
  version: string;
}

export interface PartitionMap {
  partitions: PartitionInfo[];
  controller: { id: string; epoch: number } | null;
  nodes: NodeRegistration[];
}

/** What `POST /routing` answers (DESIGN §6). */
export interface RoutingAnswer {
  partition: number;
  leader: string | null;
  node_location: string | null;
  replicas: string[];
  leader_epoch: number;
}

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

export interface Cluster {
  zk: ZooKeeperServer;
  readonly authUrl: string;
  readonly gatewayUrl: string;
  readonly partitionerUrls: string[];
  adminPassword: string;
  clusterSecret: string;
  partitions: number;
  replicationFactor: number;
  sessionTimeoutMs: number;
  auth: ClusterProcess;
  gateway: ClusterProcess;
  nodes: Map<string, ClusterProcess>;
  partitioners: ClusterProcess[];
  /** The proxy between a node and ZooKeeper, for the nodes named in `zkProxyFor`. */
  zkProxies: Map<string, TcpProxy>;
  /** A token for `admin` (cached). */
  token(): Promise<string>;
  /** The gateway's /v1 API as admin. */
  api(): Promise<Api>;
  /** A node's own /v1 API as admin (skipping the gateway). */
  nodeApi(nodeId: string): Promise<Api>;
  /** `GET /partitions` from the first partitioner that answers. */
  partitionMap(): Promise<PartitionMap>;
  /** One partition's entry of the map. */
  partitionInfo(partition: number): Promise<PartitionInfo>;
  /** `POST /routing` from the first partitioner that answers. */
  route(exchange: string, name: string): Promise<RoutingAnswer>;
  /** The node id leading the partition of `(exchange, name)`, or null. */
  leaderOf(exchange: string, name: string): Promise<string | null>;
  /** partition = fnv1a32(exchange + "/" + name) mod P, computed locally. */
  partitionOf(exchange: string, name: string): number;
  /**
   * Waits until every partition has a leader that runs, at its current URL, with a full ISR
   * in the map. After an offline partition is restored its ISR still names the members that
   * were away (the new leader drops them later), so right then a full ISR is no proof that
   * they caught up: wait for what the test needs as well.
   */
  waitHealthy(timeoutMs?: number): Promise<PartitionMap>;
  /** Waits until `condition` holds for the partition's entry of the map. */
  waitPartition(partition: number, condition: (info: PartitionInfo) => boolean, what: string, timeoutMs?: number): Promise<PartitionInfo>;
  /** The tails of every process's log and of ZooKeeper's. */
  logTails(lines?: number): string;
}

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const MAX_LOG_LINES = 20_000;

/** Children still running when the test process exits are killed by PID, never by name. */
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

class ManagedProcess implements ClusterProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private alive = false;
  private currentUrl = '';
  private currentGrpc: string | undefined;
  private readonly lines: string[] = [];
  private partial = '';

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
    let onLine: ((line: string) => void) | undefined;
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
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      const text = this.partial + chunk;
      const parts = text.split('\n');
      this.partial = parts.pop()!;
      for (const line of parts) {
        this.push(line);
        onLine?.(line);
      }
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        onLine = undefined;
        reject(new Error(`${this.id} did not log "listening" within ${START_TIMEOUT_MS} ms:\n${this.tail(40)}`));
      }, START_TIMEOUT_MS);
      onLine = (line) => {
        if (!line.includes('"msg":"listening"')) return;
        try {
          const record = JSON.parse(line) as { url?: string; grpc?: string };
          if (typeof record.url !== 'string') return;
          this.currentUrl = record.url;
          this.currentGrpc = record.grpc;
        } catch {
          return;
        }
        clearTimeout(timer);
        onLine = undefined;
        resolve();
      };
      void this.exited.then(() => {
        if (!onLine) return;
        clearTimeout(timer);
        onLine = undefined;
        reject(new Error(`${this.id} exited before listening:\n${this.tail(40)}`));
      });
    });
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

export async function startCluster(t: TestContext, options: ClusterOptions = {}): Promise<Cluster> {
  const nodeCount = options.nodes ?? 3;
  const partitions = options.partitions ?? 8;
  const partitionerCount = options.partitioners ?? 1;
  const replicationFactor = options.replicationFactor ?? Math.min(3, nodeCount);
  const minIsr = options.minIsr ?? 2;
  const sessionTimeoutMs = options.sessionTimeoutMs ?? 4_000;
  const adminPassword = `cluster-${randomBytes(9).toString('base64url')}`;
  const clusterSecret = randomBytes(18).toString('base64url');
  const env = { MOM_LOG_LEVEL: options.logLevel ?? 'info' };
  const processes: ManagedProcess[] = [];
  const dirs: string[] = [];
  let zk: ZooKeeperServer | undefined;

  // A subtest's failure shows in its own context only (the parent's `passed` is set later).
  let failedSubtests = 0;
  t.afterEach((sub) => {
    if ((sub as unknown as { passed?: boolean }).passed === false) failedSubtests++;
  });
  // Registered before ZooKeeper's own hook, so that its log is still there to print.
  t.after(async () => {
    const failed = (t as unknown as { passed?: boolean }).passed === false || failedSubtests > 0;
    // MOM_TEST_CLUSTER_LOGS=N prints the last N lines of every process even when the test passed.
    const always = Number(process.env.MOM_TEST_CLUSTER_LOGS ?? 0);
    if (failed || always > 0) {
      const why = failed ? 'failed' : 'passed';
      console.error(`\n===== cluster logs (test "${t.name}" ${why}) =====\n${logTails(always > 0 ? always : 60)}\n===== end of cluster logs =====`);
    }
    await Promise.all(processes.map((p) => p.stop('SIGKILL')));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const logTails = (lines = 60): string => {
    const parts = processes.map((p) => `--- ${p.id} (pid ${p.pid}, ${p.running ? 'running' : 'stopped'}) ---\n${p.tail(lines)}`);
    if (zk) parts.push(`--- zookeeper ---\n${zk.log().split('\n').slice(-20).join('\n')}`);
    return parts.join('\n');
  };

  zk = await startZooKeeper(t);
  const shared = [
    '--zookeeper', zk.connectString,
    '--zk-root', zk.root,
    '--zk-session-timeout-ms', String(sessionTimeoutMs),
    '--partitions', String(partitions),
    '--replication-factor', String(replicationFactor),
    '--min-insync-replicas', String(minIsr),
  ];
  const make = (id: string, args: string[], extraEnv: Record<string, string> = {}, ownDir?: string): ManagedProcess => {
    const dir = ownDir ?? tempDir(`mom-${id}-`);
    if (ownDir === undefined) dirs.push(dir);
    const managed = new ManagedProcess(id, dir, [...args, '--node-id', id, '--data', dir, '--listen', '127.0.0.1:0'], { ...env, ...extraEnv });
    processes.push(managed);
    return managed;
  };

  const auth = make('auth-1', ['--role', 'auth'], { MOM_ADMIN_PASSWORD: adminPassword });
  const partitioners = Array.from({ length: partitionerCount }, (_, i) => make(`part-${i + 1}`, ['--role', 'partitioner', ...shared]));
  // The first partitioner alone first: it wins the election, which keeps tests deterministic.
  await Promise.all([auth.start(), partitioners[0]!.start()]);
  const nodes = new Map<string, ClusterProcess>();
  const zkProxies = new Map<string, TcpProxy>();
  for (const id of options.zkProxyFor ?? []) zkProxies.set(id, await startProxy(t, zk.connectString));
  const nodeProcesses = Array.from({ length: nodeCount }, (_, i) => {
    const id = `node-${i + 1}`;
    const connect = zkProxies.get(id)?.connectString;
    return make(id, [
      '--role', 'node,replicator',
      '--grpc', '127.0.0.1:0',
      '--auth-url', auth.url,
      '--cluster-secret', clusterSecret,
      '--replica-lag-max-ms', String(options.replicaLagMaxMs ?? 4_000),
      ...shared,
      // A later --zookeeper wins (commander keeps the last value).
      ...(connect ? ['--zookeeper', connect] : []),
      ...(options.extraNodeArgs ?? []),
    ], {}, options.nodeDataDir?.(id));
  });
  for (const node of nodeProcesses) nodes.set(node.id, node);
  await Promise.all(nodeProcesses.map((node) => node.start()));

  let map: PartitionMap | undefined;
  const partitionMap = async (): Promise<PartitionMap> => {
    let last: unknown = new Error('no partitioner is running');
    for (const partitioner of partitioners) {
      if (!partitioner.running) continue;
      try {
        const response = await fetch(`${partitioner.url}/partitions`, { signal: AbortSignal.timeout(5_000) });
        const text = await response.text();
        if (response.status !== 200) throw new Error(`GET ${partitioner.url}/partitions answered ${response.status}: ${text.slice(0, 300)}`);
        map = JSON.parse(text) as PartitionMap;
        return map;
      } catch (error) {
        last = error;
      }
    }
    throw last;
  };
  await waitFor(`${partitioners[0]!.id} to become the controller`, async () => (await partitionMap()).controller?.id === partitioners[0]!.id, { timeoutMs: 20_000, intervalMs: 50, retryErrors: true });
  await Promise.all(partitioners.slice(1).map((p) => p.start()));
  const gatewayPartitioner = partitioners[options.gatewayPartitioner ?? 0];
  assert.ok(gatewayPartitioner, `no partitioner #${options.gatewayPartitioner}`);
  const gateway = make('gw-1', [
    '--role', 'gateway',
    '--partitioner-url', gatewayPartitioner.url,
    '--auth-url', auth.url,
    '--gateway-retry-deadline-ms', String(options.gatewayRetryDeadlineMs ?? 10_000),
  ]);
  await gateway.start();

  let token: string | undefined;
  const getToken = async (): Promise<string> => (token ??= await login(auth.url, 'admin', adminPassword));

  const waitHealthy = async (timeoutMs = 45_000): Promise<PartitionMap> => {
    let last = '';
    await waitFor(
      'a healthy cluster (every partition led by a running node, full ISR)',
      async () => {
        const current = await partitionMap();
        const registered = new Map(current.nodes.map((n) => [n.id, n]));
        const problems: string[] = [];
        if (current.partitions.length !== partitions) problems.push(`${current.partitions.length} partitions`);
        for (const node of nodes.values()) {
          if (node.running && registered.get(node.id)?.http !== node.url) problems.push(`${node.id} not registered at ${node.url}`);
        }
        for (const p of current.partitions) {
          const leader = p.leader === null ? undefined : nodes.get(p.leader);
          if (!leader || !leader.running) problems.push(`p${p.partition}: leader ${p.leader}`);
          else if (p.node_location !== leader.url) problems.push(`p${p.partition}: location ${p.node_location}`);
          if (p.replicas.length !== replicationFactor || [...p.isr].sort().join() !== [...p.replicas].sort().join()) {
            problems.push(`p${p.partition}: isr ${p.isr.join(',')} of ${p.replicas.join(',')}`);
          }
        }
        last = problems.slice(0, 6).join('; ');
        return problems.length === 0;
      },
      { timeoutMs, intervalMs: 100, retryErrors: true },
    ).catch((error: Error) => {
      throw new Error(`${error.message}; still: ${last}`);
    });
    return map!;
  };

  const cluster: Cluster = {
    zk,
    get authUrl() {
      return auth.url;
    },
    get gatewayUrl() {
      return gateway.url;
    },
    get partitionerUrls() {
      return partitioners.map((p) => p.url);
    },
    adminPassword,
    clusterSecret,
    partitions,
    replicationFactor,
    sessionTimeoutMs,
    auth,
    gateway,
    nodes,
    partitioners,
    zkProxies,
    token: getToken,
    api: async () => new Api(gateway.url, await getToken()),
    nodeApi: async (nodeId) => {
      const node = nodes.get(nodeId);
      assert.ok(node, `no node ${nodeId}`);
      return new Api(node.url, await getToken());
    },
    partitionMap,
    partitionInfo: async (partition) => {
      const info = (await partitionMap()).partitions.find((p) => p.partition === partition);
      assert.ok(info, `partition ${partition} is not in the map`);
      return info;
    },
    route: async (exchange, name) => {
      let last: unknown = new Error('no partitioner is running');
      for (const partitioner of partitioners) {
        if (!partitioner.running) continue;
        try {
          const response = await fetch(`${partitioner.url}/routing`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ exchange, routing_key: name }),
            signal: AbortSignal.timeout(5_000),
          });
          const text = await response.text();
          if (response.status !== 200) throw new Error(`POST /routing answered ${response.status}: ${text.slice(0, 300)}`);
          return JSON.parse(text) as RoutingAnswer;
        } catch (error) {
          last = error;
        }
      }
      throw last;
    },
    leaderOf: async (exchange, name) => (await cluster.route(exchange, name)).leader,
    partitionOf: (exchange, name) => partitionOf(exchange, name, partitions),
    waitHealthy,
    waitPartition: async (partition, condition, what, timeoutMs = 30_000) => {
      let last: PartitionInfo | undefined;
      await waitFor(
        `partition ${partition}: ${what}`,
        async () => {
          last = await cluster.partitionInfo(partition);
          return condition(last);
        },
        { timeoutMs, intervalMs: 50, retryErrors: true },
      ).catch((error: Error) => {
        throw new Error(`${error.message}; last seen ${JSON.stringify(last)}`);
      });
      return last!;
    },
    logTails,
  };
  await waitHealthy();
  return cluster;
}

// ---- names and consumption ---------------------------------------------------------------

/** A name `<prefix>-<n>` whose (exchange, name) falls in `partition`. */
export function nameInPartition(cluster: Pick<Cluster, 'partitionOf'>, exchange: string, partition: number, prefix: string): string {
  for (let i = 0; i < 100_000; i++) {
    const name = `${prefix}-${i}`;
    if (cluster.partitionOf(exchange, name) === partition) return name;
  }
  throw new Error(`no name ${prefix}-N falls in partition ${partition}`);
}

/** The first partition (in order) whose map entry satisfies `condition`. */
export function findPartition(map: PartitionMap, condition: (info: PartitionInfo) => boolean, what: string): PartitionInfo {
  const found = map.partitions.find(condition);
  assert.ok(found, `no partition where ${what}: ${JSON.stringify(map.partitions)}`);
  return found;
}

/** `/v1/exchanges/{ex}/queues/{q}` */
export function queuePath(exchange: string, queue: string): string {
  return `/v1/exchanges/${exchange}/queues/${queue}`;
}

export interface ConsumeResult {
  messages: WireMessage[];
  /** Distinct message ids seen. */
  ids: Set<string>;
}

/**
 * Pulls (max 100) and acks from an inbox until every `expected` id has been seen and a pull
 * comes back empty, or until `timeoutMs` passes (then the caller's assertion names what is
 * missing). Pulls wait up to 500 ms, so entries a new leader has yet to commit are waited
 * for rather than reported missing. Failed pulls (a failover still settling) are retried.
 */
export async function consumeAll(api: Api, inbox: string, expected: Iterable<string>, timeoutMs = 30_000): Promise<ConsumeResult> {
  const missing = new Set(expected);
  const messages: WireMessage[] = [];
  const ids = new Set<string>();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // Once everything expected is in, one quick empty pull ends it (duplicates come first).
    const waitMs = missing.size === 0 ? 0 : 500;
    const response = await api.get(`${inbox}/messages?max=100&wait_ms=${waitMs}&lease_ms=120000`);
    if (response.status !== 200) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      continue;
    }
    const batch = response.body.messages as WireMessage[];
    if (batch.length === 0) {
      if (missing.size === 0) break;
      continue;
    }
    for (const message of batch) {
      messages.push(message);
      ids.add(message.id);
      missing.delete(message.id);
    }
    const ack = await api.post(`${inbox}/ack`, { ids: batch.map((m) => m.id) });
    assert.equal(ack.status, 200, `ack on ${inbox}: ${ack.status} ${ack.text.slice(0, 300)}`);
  }
  return { messages, ids };
}

/** Asserts that every id in `acknowledged` was consumed; names a few missing ones if not. */
export function assertNoLoss(acknowledged: Iterable<string>, consumed: Set<string>, what: string): void {
  const missing = [...acknowledged].filter((id) => !consumed.has(id));
  assert.equal(missing.length, 0, `${what}: ${missing.length} acknowledged message(s) were lost, e.g. ${missing.slice(0, 5).join(', ')}`);
}

// ---- producers -----------------------------------------------------------------------------

export interface ProducerRun {
  /** Message ids answered 201, with when the answer came. */
  readonly acked: Map<string, number>;
  /** Requests sent, by producer. */
  readonly sent: number[];
  /** Answers that were not 201, by "status code" (e.g. "503 unavailable", "fetch failed"). */
  readonly refused: Map<string, number>;
  /** How many ids were acknowledged after `time` (ms since epoch). */
  ackedSince(time: number): number;
  /** Stops sending and waits for the requests in flight. */
  stop(): Promise<void>;
}

/**
 * `producers` loops, each publishing one message at a time to `path` (a queue or topic path)
 * until stopped, `maxEach` messages, or `maxMs`. Payloads are `{producer, seq}`.
 */
export function startProducers(api: Api, path: string, options: { producers: number; maxEach: number; maxMs: number }): ProducerRun {
  const acked = new Map<string, number>();
  const refused = new Map<string, number>();
  const sent = new Array<number>(options.producers).fill(0);
  const deadline = Date.now() + options.maxMs;
  let stopped = false;
  const count = (key: string) => refused.set(key, (refused.get(key) ?? 0) + 1);
  const loops = Array.from({ length: options.producers }, async (_, producer) => {
    for (let seq = 0; seq < options.maxEach && !stopped && Date.now() < deadline; seq++) {
      sent[producer]++;
      try {
        const response = await api.post(`${path}/messages`, { payload: { producer, seq } }, { signal: AbortSignal.timeout(30_000) });
        if (response.status === 201) {
          for (const id of response.body.ids as string[]) acked.set(id, Date.now());
        } else {
          count(`${response.status} ${response.body?.error?.code ?? ''}`.trim());
        }
      } catch (error) {
        count((error as Error).message);
      }
    }
  });
  const all = Promise.all(loops).then(() => undefined);
  return {
    acked,
    sent,
    refused,
    ackedSince: (time) => {
      let n = 0;
      for (const at of acked.values()) if (at > time) n++;
      return n;
    },
    stop: async () => {
      stopped = true;
      await all;
    },
  };
}

// ---- raw replication calls -------------------------------------------------------------------

export type RawFetchResult = { ok: true; response: FetchResponse } | { ok: false; error: ServiceError; momCode: string | undefined };

/**
 * One Fetch to a node's replicator with the generated client, answering the gRPC status
 * instead of throwing: `secret` undefined sends no cluster secret at all.
 */
export async function rawFetch(address: string, request: Partial<FetchRequest> & { partition: number }, secret: string | undefined, deadlineMs = 5_000): Promise<RawFetchResult> {
  const client = new ReplicationClient(address, credentials.createInsecure());
  const metadata = new Metadata();
  if (secret !== undefined) metadata.set(CLUSTER_SECRET_HEADER, secret);
  const full: FetchRequest = { followerId: '', leaderEpoch: 0, fetchOffset: 0, lastFetchedEpoch: 0, maxWaitMs: 0, maxEntries: 5_000, ...request };
  try {
    return await new Promise<RawFetchResult>((resolve) => {
      client.fetch(full, metadata, { deadline: Date.now() + deadlineMs }, (error: ServiceError | null, response: FetchResponse) => {
        if (error) {
          const code = error.metadata?.get('mom-error-code')[0];
          resolve({ ok: false, error, momCode: typeof code === 'string' ? code : undefined });
        } else {
          resolve({ ok: true, response });
        }
      });
    });
  } finally {
    client.close();
  }
}

/** Every entry of a partition's log on its leader `nodeId` (fetched as follower `asFollower` from offset 0). */
export async function leaderLogEntries(cluster: Cluster, nodeId: string, partition: number, asFollower: string): Promise<FetchResponse['entries']> {
  const info = await cluster.partitionInfo(partition);
  const result = await rawFetch(cluster.nodes.get(nodeId)!.grpc!, { partition, followerId: asFollower, leaderEpoch: info.leader_epoch, fetchOffset: 0, maxEntries: 5_000 }, cluster.clusterSecret);
  if (!result.ok) throw new Error(`Fetch from ${nodeId} (p${partition}, epoch ${info.leader_epoch}) failed: ${result.error.code} ${result.error.details}`);
  return result.response.entries;
}
