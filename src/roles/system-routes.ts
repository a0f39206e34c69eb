import type { IncomingMessage } from 'node:http';
import { sendJson, sendText } from '../http/response';
import { Router } from '../http/router';
import type { Metrics } from '../runtime/metrics';

export interface SystemRoutesOptions {
  roles: string[];
  nodeId: string;
  version: string;
  metrics: Metrics;
  /** When set (metricsRequireAuth), GET /metrics needs a valid token too. */
  metricsGuard?: (req: IncomingMessage) => Promise<unknown>;
}

/** `GET /health` and `GET /metrics`: no token needed (DESIGN §8), unless metricsRequireAuth. */
export function buildSystemRoutes(options: SystemRoutesOptions): Router {
  const started = Date.now();
  return new Router()
    .get('/health', ({ res }) =>
      sendJson(res, 200, { status: 'ok', roles: options.roles, node_id: options.nodeId, version: options.version, uptime_ms: Date.now() - started }),
    )
    .get('/metrics', async ({ req, res }) => {
      await options.metricsGuard?.(req);
      sendText(res, 200, await options.metrics.render(), options.metrics.contentType);
    });
}
