import type { IncomingMessage, ServerResponse } from 'node:http';
import { MomError } from '../core/errors';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Decoded path parameters, by the names in the route pattern (`:ex` → `params.ex`). */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly path: string;
}

export type RouteHandler = (ctx: RequestContext) => Promise<void> | void;

interface Route {
  method: HttpMethod;
  /** As registered (`/v1/exchanges/:ex`): a bounded label for request metrics. */
  pattern: string;
  segments: string[];
  handler: RouteHandler;
}

export interface RouteMatch {
  handler: RouteHandler;
  /** The route's pattern as registered, e.g. `/v1/exchanges/:ex/queues/:q`. */
  pattern: string;
  params: Record<string, string>;
}

/**
 * A small router: literal segments and `:name` parameters, nothing else. Parameters are
 * percent-decoded. A path that exists only under other methods is not a match here: the
 * server asks every router which methods it has (`allowed`) and answers 405
 * `method_not_allowed` with `Allow` (DESIGN §8), since another router may serve the method.
 */
export class Router {
  private readonly routes: Route[] = [];

  add(method: HttpMethod, pattern: string, handler: RouteHandler): this {
    this.routes.push({ method, pattern, segments: splitPath(pattern), handler });
    return this;
  }

  get(pattern: string, handler: RouteHandler): this {
    return this.add('GET', pattern, handler);
  }
  post(pattern: string, handler: RouteHandler): this {
    return this.add('POST', pattern, handler);
  }
  put(pattern: string, handler: RouteHandler): this {
    return this.add('PUT', pattern, handler);
  }
  delete(pattern: string, handler: RouteHandler): this {
    return this.add('DELETE', pattern, handler);
  }

  /** The route for this method and path, or `undefined` (see `allowed` for a path known under other methods). */
  match(method: string, path: string): RouteMatch | undefined {
    const segments = splitPath(path);
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const params = matchSegments(route.segments, segments);
      if (params !== undefined) return { handler: route.handler, pattern: route.pattern, params };
    }
    return undefined;
  }

  /** The methods this router serves `path` with (none: it does not know the path). */
  allowed(path: string): HttpMethod[] {
    const segments = splitPath(path);
    const methods: HttpMethod[] = [];
    for (const route of this.routes) {
      if (methods.includes(route.method)) continue;
      if (matchSegments(route.segments, segments) !== undefined) methods.push(route.method);
    }
    return methods;
  }
}

/**
 * 405 for a path known only under other methods (RFC 9110 §15.5.6: the answer names them in
 * `Allow`); the methods also travel in the error body as `allow`.
 */
export function methodNotAllowed(method: string, path: string, allowed: readonly string[]): MomError {
  const allow = [...allowed].sort();
  return new MomError('method_not_allowed', `method ${method} is not allowed on ${path}; use ${allow.join(', ')}`, { details: { allow } });
}

function splitPath(path: string): string[] {
  return path.split('/').filter((segment) => segment !== '');
}

function matchSegments(pattern: string[], actual: string[]): Record<string, string> | undefined {
  if (pattern.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const want = pattern[i]!;
    const got = actual[i]!;
    if (want.startsWith(':')) {
      try {
        params[want.slice(1)] = decodeURIComponent(got);
      } catch {
        throw new MomError('bad_request', `path segment ${JSON.stringify(got)} is not valid percent-encoding`);
      }
    } else if (want !== got) {
      return undefined;
    }
  }
  return params;
}
