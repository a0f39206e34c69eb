import { request, type Dispatcher } from 'undici';
import { MomError } from '../../core/errors';
import { readBody } from '../../http/body';
import { CLUSTER_SECRET_HEADER } from '../../http/client-address';
import { Router, type RequestContext } from '../../http/router';
import { USERS_PATH } from '../auth/auth-role';

/** A login or validation body is small; anything bigger is not one. */
const AUTH_BODY_LIMIT = 16 * 1024;
const AUTH_TIMEOUT_MS = 10_000;

/**
 * The gateway is where clients go, so it relays the auth role's public routes (POST /auth,
 * POST /validate, the JWKS, GET /v1/users) when the auth role runs elsewhere: the SDK, the CLI and MOM-py
 * clients log in at the same URL they publish to. The client's address goes along in
 * X-Forwarded-For, believed by the auth role when the cluster secret comes with it, so that
 * login throttling is per client and not per gateway.
 */
export function buildAuthRelay(authUrl: string, clusterSecret?: string, dispatcher?: Dispatcher): Router {
  const relay = (path: string) => async (ctx: RequestContext) => {
    const body = ctx.req.method === 'GET' ? undefined : await readBody(ctx.req, AUTH_BODY_LIMIT);
    let response;
    try {
      response = await request(`${authUrl}${path}`, {
        method: ctx.req.method as 'GET' | 'POST',
        headers: {
          ...(ctx.req.headers['content-type'] ? { 'content-type': ctx.req.headers['content-type'] } : {}),
          ...(ctx.req.headers.authorization ? { authorization: ctx.req.headers.authorization } : {}),
          ...forwardedFor(ctx, clusterSecret),
        },
        body,
        headersTimeout: AUTH_TIMEOUT_MS,
        bodyTimeout: AUTH_TIMEOUT_MS,
        ...(dispatcher ? { dispatcher } : {}),
      });
    } catch (error) {
      throw new MomError('unavailable', `the auth role at ${authUrl} is unreachable: ${(error as Error).message}; retry shortly`, { cause: error });
    }
    const text = await response.body.text();
    const headers: Record<string, string> = { 'content-type': String(response.headers['content-type'] ?? 'application/json; charset=utf-8'), 'content-length': String(Buffer.byteLength(text)) };
    for (const name of ['www-authenticate', 'retry-after', 'cache-control']) {
      const value = response.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    ctx.res.writeHead(response.statusCode, headers);
    ctx.res.end(text);
  };
  return new Router()
    .post('/auth', relay('/auth'))
    .post('/validate', relay('/validate'))
    .get('/.well-known/jwks.json', relay('/.well-known/jwks.json'))
    // The users list (admin only, checked by the auth role), for the web page's Users view.
    .get(USERS_PATH, relay(USERS_PATH));
}

/** `X-Forwarded-For` with the address this gateway saw appended, and the secret that vouches for it. */
function forwardedFor(ctx: RequestContext, clusterSecret: string | undefined): Record<string, string> {
  if (clusterSecret === undefined || clusterSecret === '') return {};
  const seen = ctx.req.socket.remoteAddress ?? 'unknown';
  const earlier = ctx.req.headers['x-forwarded-for'];
  const chain = [...(Array.isArray(earlier) ? earlier : earlier ? [earlier] : []), seen].join(', ');
  return { 'x-forwarded-for': chain, [CLUSTER_SECRET_HEADER]: clusterSecret };
}
