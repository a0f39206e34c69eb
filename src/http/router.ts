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
 * percent-decoded. A path that exists under another method is a 404 `not_found` naming the
 * method (DESIGN §8's status list has no 405).
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

  /** Returns the matching route, `undefined` when no route has this path, or throws when only the method is wrong. */
  match(method: string, path: string): RouteMatch | undefined {
    const segments = splitPath(path);
    let pathMatched = false;
    for (const route of this.routes) {
      const params = matchSegments(route.segments, segments);
      if (params === undefined) continue;
      if (route.method === method) return { handler: route.handler, pattern: route.pattern, params };
      pathMatched = true;
    }
    if (pathMatched) throw new MomError('not_found', `method ${method} is not allowed on ${path}`);
    return undefined;
  }
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
