import { Agent, type Dispatcher } from 'undici';
import type { BrokerConfig, Role } from '../config/settings';
import { loadTlsMaterial } from '../config/tls-files';
import type { Coordinator } from '../coordination/coordinator';
import { EmbeddedCoordinator } from '../coordination/embedded-coordinator';
import { ZooKeeperCoordinator } from '../coordination/zookeeper-coordinator';
import { MomError } from '../core/errors';
import { Router } from '../http/router';
import { HttpServer } from '../http/server';
import { createTokenVerifier, type TokenVerifier } from '../http/token-verifier';
import { UserStateFeed } from '../http/user-state-feed';
import { ReplicationPeers } from '../replication/replication-client';
import { ReplicationServer } from '../replication/replication-server';
import type { Logger } from '../runtime/logger';
import { Metrics } from '../runtime/metrics';
import { prepareDataDir } from '../runtime/private-files';
import { startAuthRole, type AuthRole } from './auth/auth-role';
import { buildAuthRelay } from './gateway/auth-relay';
import { Forwarder, type RouteSource } from './gateway/forwarder';
import { buildGatewayApi, buildGatewayMapRoute, routeSourceFromTable } from './gateway/gateway-api';
import { GatewayMetrics } from './gateway/gateway-metrics';
import { countLeaderChanges } from './leader-changes';
import { MomPySend } from './gateway/mompy-send';
import { PartitionerRoutes } from './gateway/partitioner-routes';
import { buildUiRoutes } from './gateway/ui-route';
import { PartitionMap } from '../coordination/partition-map';
import { buildClientApi } from './node/client-api';
import { MomPyHandler } from './node/mompy-handler';
import { NodeRole } from './node/node-role';
import { PerUserSlots } from './node/per-user-slots';
import { RequestGuard } from './node/request-guard';
import { PartitionerRole } from './partitioner/partitioner-role';
import { registerProcessMetrics } from './process-metrics';
import { buildSystemRoutes } from './system-routes';

export const VERSION = '0.1.0';

export interface BrokerProcess {
  url: string;
  roles: Role[];
  /** Stops accepting, drains in-flight requests, flushes the store, leaves the cluster. Idempotent. */
  close(): Promise<void>;
}

/** The roles a process runs: `all` is node + auth + gateway on one port (DESIGN §1). */
export function expandRoles(roles: Role[]): Set<Role> {
  return roles.includes('all') ? new Set<Role>(['node', 'auth', 'gateway']) : new Set(roles);
}

function checkRoleCombination(config: BrokerConfig, roles: Set<Role>): void {
  const clustered = config.zookeeper !== undefined;
  if (config.roles.includes('all') && clustered) {
    throw new MomError('config_invalid', 'role: all runs one node without ZooKeeper; for a cluster run node,replicator, auth, partitioner and gateway (see scripts/cluster.sh)');
  }
  if (clustered && roles.has('node') && roles.has('gateway')) {
    throw new MomError('config_invalid', 'role: in a cluster, node and gateway both serve /v1 and need their own processes (or ports)');
  }
  if (!clustered && !config.roles.includes('all')) {
    for (const role of ['node', 'replicator', 'partitioner'] as const) {
      if (roles.has(role)) throw new MomError('config_invalid', `zookeeper: role ${role} needs --zookeeper host:port (or run --role all for a single node)`);
    }
    if (roles.has('gateway') && !config.partitionerUrl) {
      throw new MomError('config_invalid', 'partitioner-url: a gateway needs --partitioner-url (or --zookeeper) to find partition leaders');
    }
  }
}

function createCoordinator(config: BrokerConfig, logger: Logger): Coordinator {
  if (config.zookeeper) {
    return new ZooKeeperCoordinator({ connectString: config.zookeeper, root: config.zkRoot, sessionTimeoutMs: config.zkSessionTimeoutMs, logger: logger.child({ part: 'zookeeper' }) });
  }
  return new EmbeddedCoordinator(config.data);
}

interface Parts {
  node?: NodeRole;
  replication?: ReplicationServer;
  peers?: ReplicationPeers;
  partitioner?: PartitionerRole;
  gateway?: Array<() => Promise<void> | void>;
  coordinator?: Coordinator;
  auth?: AuthRole;
  httpStarted?: boolean;
  userState?: UserStateFeed;
  /** Stops counting leader changes (see countLeaderChanges). */
  leaderChanges?: () => void;
}

/**
 * Wires the roles of one process: one HTTP listener each role mounts its routes on, one
 * coordinator, one logger, one metrics registry. Roles reach each other over the network,
 * except through the coordinator and store objects wired here once.
 */
export interface BrokerProcessHooks {
  /**
   * Something happened after which this process must not go on (an fdatasync failed: see
   * GroupCommitOptions.onSyncFailure). The caller ends the process at once, without the
   * orderly close, which would write to the same disk.
   */
  onFatal: (error: Error) => void;
}

export async function startBrokerProcess(config: BrokerConfig, logger: Logger, hooks: BrokerProcessHooks): Promise<BrokerProcess> {
  const roles = expandRoles(config.roles);
  checkRoleCombination(config, roles);
  const metrics = new Metrics({ onCollectError: (metric, error) => logger.warn('a metric could not be read', { metric, error }) });
  // TLS files are read and checked before anything is bound or written (DESIGN §7, §8).
  const tls = loadTlsMaterial(config);
  const onRequestDone = registerProcessMetrics(metrics, { version: VERSION, roles: [...roles] }, () => http.openConnections);
  const http = new HttpServer({ host: config.listen.host, port: config.listen.port, logger, holdUntilReady: true, maxConnections: config.maxConnections, onRequestDone, ...(tls.http ? { tls: tls.http } : {}) });
  // How this process reaches other roles: over HTTPS trusting --tls-ca, when one is given.
  const peerHttp: Dispatcher | undefined = tls.peerCa ? new Agent({ connect: { ca: tls.peerCa } }) : undefined;
  const parts: Parts = {};
  let closing: Promise<void> | undefined;
  // Closed in this order: drain and stop HTTP first, then what requests used, then the rest.
  const closeAll = () => {
    closing ??= (async () => {
      const steps: Array<[string, () => Promise<void> | void]> = [
        ['drain', () => parts.node?.drain()],
        ['http', () => (parts.httpStarted ? http.close() : undefined)],
        ...(parts.gateway ?? []).map((close) => ['gateway', close] as [string, () => Promise<void> | void]),
        ['partitioner', () => parts.partitioner?.close()],
        ['node', () => parts.node?.close()],
        ['replicator', () => parts.replication?.close()],
        ['peers', () => parts.peers?.close()],
        ['leader changes', () => parts.leaderChanges?.()],
        ['coordinator', () => parts.coordinator?.close()],
        ['auth', () => parts.auth?.close()],
        ['user state', () => parts.userState?.close()],
        ['peer http', () => peerHttp?.close()],
      ];
      for (const [name, step] of steps) {
        try {
          await step();
        } catch (error) {
          logger.warn('error while closing', { part: name, error });
        }
      }
    })();
    return closing;
  };

  try {
    // DESIGN §8: a start that cannot use its ports or data dir ends at once, naming them, before
    // anything is written. Binding writes nothing, so the ports come first; the listener
    // answers 503 until the roles are mounted.
    await bindOrRefuse(() => http.start(), 'listen', config.listen);
    parts.httpStarted = true;
    if (roles.has('node') && roles.has('replicator')) {
      parts.replication = new ReplicationServer({
        host: config.grpc.host,
        port: config.grpc.port,
        clusterSecret: config.clusterSecret,
        logger,
        leaderLog: (partition) => parts.node?.leaderLog(partition),
        ...(tls.grpc ? { tls: tls.grpc } : {}),
      });
      await bindOrRefuse(() => parts.replication!.start(), 'grpc', config.grpc);
    }
    if (usesDataDir(roles)) prepareDataDir(config.data);

    if (roles.has('auth')) {
      parts.auth = await startAuthRole({
        dataDir: config.data,
        tokenTtlSeconds: config.tokenTtlSeconds,
        logger,
        env: process.env,
        clusterSecret: config.clusterSecret,
        // Users and grants are not for the public port, unless the cluster secret guards them.
        serveUserState: config.clusterSecret !== undefined || !(roles.has('node') || roles.has('gateway')),
        metrics,
      });
    }
    // One verifier for every role of the process, with one poller of the auth role's user state.
    let verifier: TokenVerifier | undefined;
    const tokenVerifier = (): TokenVerifier => (verifier ??= tokenVerifierFor(config, parts, logger, { dispatcher: peerHttp, ca: tls.peerCa }));
    const metricsVerifier = config.metricsRequireAuth ? tokenVerifier() : undefined;
    http.mount(
      buildSystemRoutes({
        roles: [...roles],
        nodeId: config.nodeId,
        metrics,
        version: VERSION,
        ...(metricsVerifier ? { metricsGuard: (req) => metricsVerifier.verify(req.headers.authorization) } : {}),
      }),
    );
    if (parts.auth) http.mount(parts.auth.router);

    const gatewayWatchesCoordinator = roles.has('gateway') && !config.partitionerUrl;
    if (roles.has('node') || roles.has('partitioner') || gatewayWatchesCoordinator) {
      parts.coordinator = createCoordinator(config, logger);
      await parts.coordinator.start();
      if (roles.has('node') || roles.has('partitioner')) parts.leaderChanges = countLeaderChanges(metrics, parts.coordinator);
    }
    const coordinator = parts.coordinator;

    http.ready();
    const url = config.advertiseUrl ?? http.url();

    if (roles.has('partitioner')) {
      const partitioner = new PartitionerRole({
        coordinator: coordinator!,
        candidateId: config.nodeId,
        partitions: config.partitions,
        replicationFactor: config.replicationFactor,
        uncleanElection: config.uncleanElection,
        logger: logger.child({ role: 'partitioner' }),
      });
      parts.partitioner = partitioner;
      partitioner.registerMetrics(metrics);
      await partitioner.start();
      http.mount(parts.partitioner.router);
    }

    if (roles.has('node')) {
      const grpcAddress = parts.replication ? (config.advertiseGrpc ?? parts.replication.address()) : '';
      if (config.zookeeper) parts.peers = new ReplicationPeers(config.clusterSecret, tls.grpc);
      const guard = new RequestGuard(tokenVerifier());
      const node = new NodeRole({
        config,
        coordinator: coordinator!,
        logger,
        metrics,
        httpUrl: url,
        grpcAddress,
        version: VERSION,
        onFatal: hooks.onFatal,
        ...(parts.peers ? { replication: { peers: parts.peers } } : {}),
        ...(peerHttp ? { peerHttp } : {}),
      });
      parts.node = node;
      const consumerSlots = new PerUserSlots(config.maxLongPollsPerUser, 'long polls', '--max-long-polls-per-user');
      http.mount(buildClientApi(node, coordinator!, guard, config.bodyLimitBytes, metrics, consumerSlots));
      http.mount(new Router().post('/', new MomPyHandler(node, coordinator!, guard, config.bodyLimitBytes).handle));
      await node.start();
    }

    if (roles.has('gateway')) {
      const routes = await startRouteSource(config, coordinator, logger, peerHttp);
      const forwarder = new Forwarder({
        routes: routes.source,
        verifier: tokenVerifier(),
        logger: logger.child({ role: 'gateway' }),
        bodyLimit: config.bodyLimitBytes,
        retryDeadlineMs: config.gatewayRetryDeadlineMs,
        // Past the session timeout a silent node is fenced and its partitions move (DESIGN §4):
        // no request waits longer than a failover takes (issue 11 §2).
        ...(config.zookeeper || config.partitionerUrl ? { responseTimeoutMs: config.zkSessionTimeoutMs + 1_000 } : {}),
        ...(tls.peerCa ? { ca: tls.peerCa } : {}),
        metrics: new GatewayMetrics(metrics),
      });
      parts.gateway = [() => forwarder.close(), routes.close];
      http.mount(new Router().post('/send', new MomPySend(forwarder, config.bodyLimitBytes).handle));
      http.mount(buildGatewayMapRoute(routes.source));
      http.mount(buildUiRoutes());
      if (!parts.auth && config.authUrl) http.mount(buildAuthRelay(config.authUrl, config.clusterSecret, peerHttp));
      // With a node in this process (--role all), the node serves /v1 itself.
      if (!roles.has('node')) http.mount(buildGatewayApi(forwarder));
    }

    logger.info('listening', { url: http.url(), roles: [...roles], data: config.data, node_id: config.nodeId, ...(parts.replication ? { grpc: parts.replication.address() } : {}), ...(tls.grpc ? { grpc_tls: 'mutual' } : {}) });
    return { url: http.url(), roles: [...roles], close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** The auth role (users, signing key) and a node (its store; with `all`, the coordinator's file) keep files. */
function usesDataDir(roles: Set<Role>): boolean {
  return roles.has('auth') || roles.has('node');
}

/** A port that cannot be bound is a configuration problem (exit 2) that names the setting. */
async function bindOrRefuse(bind: () => Promise<void>, setting: 'listen' | 'grpc', address: { host: string; port: number }): Promise<void> {
  try {
    await bind();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const shown = `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
    const why =
      code === 'EADDRINUSE' ? 'the port is already in use'
      : code === 'EACCES' ? 'this user may not bind that port'
      : code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'that address is not one of this machine'
      : (error as Error).message;
    throw new MomError('config_invalid', `${setting}: cannot listen on ${shown}: ${why}${code ? ` (${code})` : ''}; choose another with --${setting}`, { cause: error });
  }
}

/** The gateway's map: from the partitioner (DESIGN §6), or by watching the coordinator itself. */
async function startRouteSource(config: BrokerConfig, coordinator: Coordinator | undefined, logger: Logger, peerHttp: Dispatcher | undefined): Promise<{ source: RouteSource; close: () => void }> {
  if (config.partitionerUrl) {
    const routes = new PartitionerRoutes(config.partitionerUrl, logger.child({ role: 'gateway' }), peerHttp);
    await routes.start();
    return { source: routes, close: () => routes.close() };
  }
  const table = new PartitionMap(coordinator!);
  await table.start(config.partitions);
  return { source: routeSourceFromTable(table), close: () => table.close() };
}

function tokenVerifierFor(config: BrokerConfig, parts: Parts, logger: Logger, peer: { dispatcher: Dispatcher | undefined; ca: Buffer | undefined }): TokenVerifier {
  if (parts.auth) return parts.auth.verifier;
  if (!config.authUrl) throw new MomError('config_invalid', 'auth-url: a node or gateway without the auth role needs --auth-url to fetch the JWKS');
  parts.userState = new UserStateFeed({ authUrl: config.authUrl, clusterSecret: config.clusterSecret, logger: logger.child({ part: 'user-state' }), ...(peer.dispatcher ? { dispatcher: peer.dispatcher } : {}) });
  return createTokenVerifier({ jwksUrl: `${config.authUrl}/.well-known/jwks.json` }, { userState: parts.userState, ...(peer.ca ? { jwksCa: peer.ca } : {}) });
}
