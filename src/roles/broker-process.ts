import type { BrokerConfig, Role } from '../config/settings';
import type { Coordinator } from '../coordination/coordinator';
import { EmbeddedCoordinator } from '../coordination/embedded-coordinator';
import { MomError } from '../core/errors';
import { Router } from '../http/router';
import { HttpServer } from '../http/server';
import { createTokenVerifier, type TokenVerifier } from '../http/token-verifier';
import type { Logger } from '../runtime/logger';
import { Metrics } from '../runtime/metrics';
import { startAuthRole, type AuthRole } from './auth/auth-role';
import { MomPySend } from './gateway/mompy-send';
import { RoutingTable } from './gateway/routing-table';
import { buildClientApi } from './node/client-api';
import { MomPyHandler } from './node/mompy-handler';
import { NodeRole } from './node/node-role';
import { RequestGuard } from './node/request-guard';
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

function createCoordinator(config: BrokerConfig): Coordinator {
  if (config.zookeeper) {
    throw new MomError('config_invalid', 'zookeeper: clustering is not available in this build yet; run --role all without --zookeeper');
  }
  return new EmbeddedCoordinator(config.data);
}

/**
 * Wires the roles of one process: one HTTP listener each role mounts its routes on, one
 * coordinator, one logger, one metrics registry. Roles reach each other over the network,
 * except through the coordinator and store objects wired here once.
 */
export async function startBrokerProcess(config: BrokerConfig, logger: Logger): Promise<BrokerProcess> {
  const roles = expandRoles(config.roles);
  const metrics = new Metrics();
  const http = new HttpServer({ host: config.listen.host, port: config.listen.port, logger });
  // Closed in this order: drain and stop HTTP first, then what requests used, then the rest.
  const parts: { node?: NodeRole; gateway?: Array<() => Promise<void> | void>; coordinator?: Coordinator; auth?: AuthRole; httpStarted?: boolean } = {};
  let closing: Promise<void> | undefined;
  const closeAll = () => {
    closing ??= (async () => {
      const steps: Array<[string, () => Promise<void> | void]> = [
        ['drain', () => parts.node?.drain()],
        ['http', () => (parts.httpStarted ? http.close() : undefined)],
        ...(parts.gateway ?? []).map((close) => ['gateway', close] as [string, () => Promise<void> | void]),
        ['node', () => parts.node?.close()],
        ['coordinator', () => parts.coordinator?.close()],
        ['auth', () => parts.auth?.close()],
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
    http.mount(buildSystemRoutes({ roles: [...roles], nodeId: config.nodeId, metrics, version: VERSION }));

    let auth: AuthRole | undefined;
    if (roles.has('auth')) {
      auth = await startAuthRole({ dataDir: config.data, tokenTtlSeconds: config.tokenTtlSeconds, logger, env: process.env });
      parts.auth = auth;
      http.mount(auth.router);
    }

    const needsCoordinator = roles.has('node') || roles.has('gateway') || roles.has('partitioner');
    const coordinator = needsCoordinator ? createCoordinator(config) : undefined;
    if (coordinator) {
      await coordinator.start();
      parts.coordinator = coordinator;
    }

    await http.start();
    parts.httpStarted = true;
    const url = config.advertiseUrl ?? http.url();

    if (roles.has('node')) {
      const verifier = tokenVerifierFor(config, auth);
      const guard = new RequestGuard(verifier);
      const node = new NodeRole({ config, coordinator: coordinator!, logger, metrics, httpUrl: url, grpcAddress: '', version: VERSION });
      parts.node = node;
      http.mount(buildClientApi(node, coordinator!, guard, config.bodyLimitBytes, metrics));
      const mompy = new MomPyHandler(node, coordinator!, guard, config.bodyLimitBytes);
      http.mount(new Router().post('/', mompy.handle));
      await node.start();
    }

    if (roles.has('gateway')) {
      const routes = new RoutingTable(coordinator!);
      await routes.start(config.partitions);
      const send = new MomPySend(routes, config.bodyLimitBytes);
      parts.gateway = [() => send.close(), () => routes.close()];
      http.mount(new Router().post('/send', send.handle));
    }

    logger.info('listening', { url: http.url(), roles: [...roles], data: config.data, node_id: config.nodeId });
    return { url: http.url(), roles: [...roles], close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

function tokenVerifierFor(config: BrokerConfig, auth: AuthRole | undefined): TokenVerifier {
  if (auth) return auth.verifier;
  if (!config.authUrl) throw new MomError('config_invalid', 'auth-url: a node or gateway without the auth role needs --auth-url to fetch the JWKS');
  return createTokenVerifier({ jwksUrl: `${config.authUrl}/.well-known/jwks.json` });
}
