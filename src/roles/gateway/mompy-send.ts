import { Pool } from 'undici';
import { MomError } from '../../core/errors';
import { readBody } from '../../http/body';
import type { RequestContext } from '../../http/router';
import { parseMomPyRequest } from '../node/mompy-handler';
import type { RouteSource } from './forwarder';

/**
 * The gateway's `POST /send` (MOM-py's API Gateway + Lambda): finds the leader of the routing
 * key's partition and forwards the request, token included, to that node's `POST /`.
 */
export class MomPySend {
  private readonly pools = new Map<string, Pool>();

  constructor(
    private readonly routes: RouteSource,
    private readonly bodyLimit: number,
  ) {}

  readonly handle = async (ctx: RequestContext): Promise<void> => {
    const text = await readBody(ctx.req, this.bodyLimit);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new MomError('bad_request', `request body is not valid JSON: ${(error as Error).message}`);
    }
    const request = parseMomPyRequest(parsed);
    const route = this.routes.route(request.exchange, request.routingKey);
    if (!route.node_location) throw new MomError('unavailable', `partition ${route.partition} has no leader right now; retry shortly`);
    const response = await this.pool(route.node_location).request({
      method: 'POST',
      path: '/',
      headers: { 'content-type': 'application/json', ...(ctx.req.headers.authorization ? { authorization: ctx.req.headers.authorization } : {}) },
      body: text,
    });
    const body = await response.body.text();
    const headers: Record<string, string | number> = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) };
    // What the client must act on: how to authenticate (401) and when to retry (503, 429).
    for (const name of ['www-authenticate', 'retry-after']) {
      const value = response.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    ctx.res.writeHead(response.statusCode, headers);
    ctx.res.end(body);
  };

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, { connections: 16 });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.close()));
    this.pools.clear();
  }
}
