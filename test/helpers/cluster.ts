/**
 * A whole mombroker cluster for tests, as separate processes of the real executable
 * (DESIGN §1): a real ZooKeeper (./zookeeper.ts), one auth, one or more partitioners, N
 * `node,replicator` processes and one gateway, all on loopback with port 0. Each process is a
 * ManagedProcess (./managed-process.ts); workloads to run against a cluster are in
 * ./workloads.ts, raw replication calls in ./replication.ts.
 *
 * `startCluster(t, options)` returns once every partition has a leader and a full ISR.
 * When the test or one of its subtests fails, the last lines of every process's log and of
 * ZooKeeper's are printed (MOM_TEST_CLUSTER_LOGS=N prints N lines each even when it passes).
 * Every process is stopped by its PID when the test ends, and its temp data dir removed.
 *
 * A node's `restart()` starts a new process on the same data dir and node id; its ports may
 * change, and it registers again in ZooKeeper (waiting for its old session to end).
 *
 * With `tls: true` every process serves HTTPS with a certificate of a test CA (./tls.ts) and
 * trusts that CA for the others (`--tls-ca`), and nodes replicate over mutual TLS
 * (`--grpc-tls-*`, a certificate each). The helper's own requests (`api()`, `partitionMap()`,
 * logins) trust the CA too; `cluster.tls` gives it to tests (`ca` for the SDK, `dispatcher`
 * for fetch).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { partitionOf } from '../../src/core/hash';
import type { Agent } from 'undici';
import { login, tempDir, withDispatcher } from './broker';
import { Api } from './http-api';
import { ManagedProcess, type ClusterProcess } from './managed-process';
import { waitFor } from './wait';
import { createCa, issueCertificate, trusting, type TestCa } from './tls';
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
  /** HTTPS on every process and mutual TLS between replicators, with a test CA; default false. */
  tls?: boolean;
}

/** The test CA of a cluster started with `tls: true`. */
export interface ClusterTls {
  ca: TestCa;
  /** An undici dispatcher trusting the CA, for fetch(url, withDispatcher(dispatcher)). */
  dispatcher: Agent;
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

export interface Cluster {
  zk: ZooKeeperServer;
  /** Set when started with `tls: true`. */
  tls: ClusterTls | undefined;
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

  let tls: ClusterTls | undefined;
  let tlsArgs: (id: string, replicates: boolean) => string[] = () => [];
  if (options.tls) {
    const ca = createCa(t, 'cluster test CA');
    tls = { ca, dispatcher: trusting(t, ca) };
    tlsArgs = (id, replicates) => {
      const { certFile, keyFile } = issueCertificate(ca, id);
      const grpc = replicates ? ['--grpc-tls-cert', certFile, '--grpc-tls-key', keyFile, '--grpc-tls-ca', ca.certFile] : [];
      return ['--tls-cert', certFile, '--tls-key', keyFile, '--tls-ca', ca.certFile, ...grpc];
    };
  }
  const dispatcher = tls?.dispatcher;

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
    const replicates = args.includes('node,replicator');
    const managed = new ManagedProcess(id, dir, [...args, '--node-id', id, '--data', dir, '--listen', '127.0.0.1:0', ...tlsArgs(id, replicates)], { ...env, ...extraEnv });
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
        const response = await fetch(`${partitioner.url}/partitions`, { signal: AbortSignal.timeout(5_000), ...withDispatcher(dispatcher) });
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
    // The gateway bounds its wait for a node by the session timeout (a frozen leader).
    '--zk-session-timeout-ms', String(sessionTimeoutMs),
  ]);
  await gateway.start();

  let token: string | undefined;
  const getToken = async (): Promise<string> => (token ??= await login(auth.url, 'admin', adminPassword, dispatcher));

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
    tls,
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
    api: async () => new Api(gateway.url, await getToken(), dispatcher),
    nodeApi: async (nodeId) => {
      const node = nodes.get(nodeId);
      assert.ok(node, `no node ${nodeId}`);
      return new Api(node.url, await getToken(), dispatcher);
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
            ...withDispatcher(dispatcher),
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
