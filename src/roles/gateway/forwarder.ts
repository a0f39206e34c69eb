/**
 * The gateway's forwarding of the /v1 API (DESIGN §6): verify the token, find the leader of
 * the partition that owns `(exchange, name)`, send the request there over a keep-alive undici
 * pool, and copy the answer back.
 *
 * During a failover a node answers `421 not_leader` or `503 unavailable` (nothing was stored),
 * or cannot be reached at all. The forwarder then refreshes its route and retries with backoff
 * (50 ms doubling to 500 ms) until a deadline (default 10 s), then answers `503 unavailable`
 * with `Retry-After`. A request that may have reached a node before the connection failed is
 * retried only when doing it twice is harmless: never a publish, which could be stored twice.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Pool, type Dispatcher } from 'undici';
import { MomError, type ErrorCode } from '../../core/errors';
import { assertValidName, type NameKind } from '../../core/names';
import { DEFAULT_BODY_LIMIT, readBody } from '../../http/body';
import type { RequestContext } from '../../http/router';
import type { TokenVerifier } from '../../http/token-verifier';
import type { Logger } from '../../runtime/logger';
import type { Route } from '../../coordination/partition-map';

/** Where requests go: the gateway's PartitionMap, or anything that can answer the same questions. */
export interface RouteSource {
  /** The partition of `(exchange, name)` and its leader; may throw MomError `unavailable` while loading. */
  route(exchange: string, name: string): Route;
  /** Some live node for exchange-level requests (any node can serve them), or null if none is known. */
  anyLocation(): string | null;
  /** Asks for a fresher map after a node disagreed with it; a watched source may resolve at once. */
  refresh?(): Promise<void>;
}

/** What a /v1 request is about: one queue or topic (routed to its partition's leader), or an exchange. */
export type ForwardTarget =
  | { kind: 'partition'; exchange: string; name: string; nameKind: Extract<NameKind, 'queue' | 'topic'> }
  | { kind: 'exchange'; exchange?: string };

export interface ForwarderOptions {
  routes: RouteSource;
  verifier: TokenVerifier;
  logger: Logger;
  /** Request body limit; 413 past it (DESIGN §8: 1 MiB). */
  bodyLimit?: number;
  /** How long to keep retrying during a failover; default 10 s (`gatewayRetryDeadlineMs`). */
  retryDeadlineMs?: number;
  /** Keep-alive connections per node; default 16. */
  connectionsPerNode?: number;
  /** Waiting for a node's answer (headers, then each body chunk); default 40 s, above the 30 s long-poll bound. */
  responseTimeoutMs?: number;
  /** TCP connect timeout to a node; default 3 s. */
  connectTimeoutMs?: number;
  /** First and largest pause between attempts; default 50 and 500 ms. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
}

/** Errors that happen before any byte of the request left: resending cannot duplicate it. */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);
/** 503 codes a node answers before storing anything (DESIGN §5: refused, not half-done). */
const RETRYABLE_503: ReadonlySet<string> = new Set<ErrorCode>(['unavailable', 'not_enough_replicas']);
/** The signal of requests that are not long polls: nothing aborts them but the deadline. */
const NEVER_ABORTED = new AbortController().signal;
/** Hop-by-hop headers (RFC 9110 §7.6.1) are the proxy's own business, never copied. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
/** Request headers a node needs; everything else stays at the gateway. */
const FORWARDED_REQUEST_HEADERS = ['authorization', 'content-type', 'accept', 'user-agent', 'x-request-id'] as const;
/** The most of a 421/503 answer read to decide whether to retry (they are small JSON errors). */
const ERROR_BODY_LIMIT = 64 * 1024;

/** Why the last attempt did not answer, for the final 503 and the logs. */
interface Failure {
  reason: string;
  code: string;
}

type Attempt =
  | { done: true }
  | { done: false; failure: Failure; hint?: string }
  | { done: false; fatal: MomError };

export class Forwarder {
  private readonly pools = new Map<string, Pool>();
  private readonly routes: RouteSource;
  private readonly verifier: TokenVerifier;
  private readonly log: Logger;
  private readonly bodyLimit: number;
  private readonly retryDeadlineMs: number;
  private readonly connections: number;
  private readonly responseTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: ForwarderOptions) {
    this.routes = options.routes;
    this.verifier = options.verifier;
    this.log = options.logger.child({ component: 'gateway' });
    this.bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
    this.retryDeadlineMs = options.retryDeadlineMs ?? 10_000;
    this.connections = options.connectionsPerNode ?? 16;
    this.responseTimeoutMs = options.responseTimeoutMs ?? 40_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 3_000;
    this.backoffInitialMs = options.backoffInitialMs ?? 50;
    this.backoffMaxMs = options.backoffMaxMs ?? 500;
  }

  /**
   * Handles one /v1 request end to end: verify, route, forward, retry, answer. `prepared`
   * carries a body the caller already read and the node path to send it to (MOM-py's
   * `POST /send` goes to the node's `POST /`).
   */
  async forward(ctx: RequestContext, target: ForwardTarget, prepared?: { body: string; path: string }): Promise<void> {
    if (this.closed) throw new MomError('unavailable', 'the gateway is shutting down; retry on another gateway');
    // The token first: nothing is forwarded for a caller who is not one of ours (DESIGN §6).
    await this.verifier.verify(ctx.req.headers.authorization);
    if (target.kind === 'partition') {
      assertValidName('exchange', target.exchange);
      assertValidName(target.nameKind, target.name);
    } else if (target.exchange !== undefined) {
      assertValidName('exchange', target.exchange);
    }
    // Buffered, so it can be sent again to the next leader.
    const body = prepared?.body ?? (await readBody(ctx.req, this.bodyLimit));
    const method = ctx.req.method ?? 'GET';
    const upstreamPath = prepared?.path ?? ctx.req.url ?? ctx.path;
    const resendable = isResendable(method, upstreamPath.split('?')[0]!);

    // A client that goes away from a long poll takes its upstream request with it. Other
    // requests answer quickly, and an abort signal costs on every one of them.
    const longPoll = method === 'GET' && ctx.query.has('wait_ms') && ctx.query.get('wait_ms') !== '0';
    if (!longPoll) {
      await this.attemptUntilDeadline(ctx, target, method, upstreamPath, body, resendable, NEVER_ABORTED);
      return;
    }
    const abort = new AbortController();
    const onClose = (): void => {
      if (!ctx.res.writableFinished) abort.abort();
    };
    ctx.res.once('close', onClose);
    try {
      await this.attemptUntilDeadline(ctx, target, method, upstreamPath, body, resendable, abort.signal);
    } finally {
      ctx.res.off('close', onClose);
    }
  }

  private async attemptUntilDeadline(
    ctx: RequestContext,
    target: ForwardTarget,
    method: string,
    path: string,
    body: string,
    resendable: boolean,
    signal: AbortSignal,
  ): Promise<void> {
    const deadline = Date.now() + this.retryDeadlineMs;
    let pause = this.backoffInitialMs;
    let hint: { from: string; to: string } | undefined;
    let last: Failure = { reason: 'no attempt was made', code: 'unavailable' };
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) return;
      const location = this.locate(target, hint);
      let outcome: Attempt;
      if (location.origin === null) {
        outcome = { done: false, failure: location.failure };
      } else {
        outcome = await this.attempt(ctx, location.origin, method, path, body, resendable, signal);
      }
      if (outcome.done) return;
      if ('fatal' in outcome) throw outcome.fatal;
      last = outcome.failure;
      hint = outcome.hint !== undefined && location.origin !== null ? { from: location.origin, to: outcome.hint } : undefined;

      const remaining = deadline - Date.now();
      if (remaining <= 0 || signal.aborted) break;
      this.log.debug('retrying after a failed forward', { attempt, path: ctx.path, reason: last.reason, pauseMs: pause });
      // The refresh runs during the pause; a slow one is not waited for past the deadline.
      await Promise.all([sleep(Math.min(pause, remaining), signal), this.refreshRoutes(remaining)]);
      pause = Math.min(pause * 2, this.backoffMaxMs);
    }
    if (signal.aborted) return;
    throw new MomError(
      'unavailable',
      `no node could serve this request within ${this.retryDeadlineMs} ms (${last.reason}); a failover may be in progress, retry shortly`,
      { details: { last_error: last.code } },
    );
  }

  /** The node to try: the route's leader, unless that node itself just pointed elsewhere (421). */
  private locate(target: ForwardTarget, hint: { from: string; to: string } | undefined): { origin: string; failure?: undefined } | { origin: null; failure: Failure } {
    let origin: string | null;
    let partition: number | undefined;
    try {
      if (target.kind === 'partition') {
        const route = this.routes.route(target.exchange, target.name);
        origin = route.node_location;
        partition = route.partition;
      } else {
        origin = this.routes.anyLocation();
      }
    } catch (error) {
      if (error instanceof MomError && error.retryable) return { origin: null, failure: { reason: error.message, code: error.code } };
      throw error;
    }
    // Our map may lag the node's: follow the node's word while the map still names the old leader.
    if (hint && (origin === null || origin === hint.from)) origin = hint.to;
    if (origin === null) {
      const what = partition === undefined ? 'no live node is known' : `partition ${partition} has no leader`;
      return { origin: null, failure: { reason: what, code: 'unavailable' } };
    }
    return { origin };
  }

  private async attempt(
    ctx: RequestContext,
    origin: string,
    method: string,
    path: string,
    body: string,
    resendable: boolean,
    signal: AbortSignal,
  ): Promise<Attempt> {
    let response: Dispatcher.ResponseData;
    try {
      response = await this.pool(origin).request({
        method: method as Dispatcher.HttpMethod,
        path,
        headers: forwardedHeaders(ctx.req, body),
        body: body === '' ? undefined : body,
        ...(signal === NEVER_ABORTED ? {} : { signal }),
        headersTimeout: this.responseTimeoutMs,
        bodyTimeout: this.responseTimeoutMs,
      });
    } catch (error) {
      if (signal.aborted) return { done: true };
      const code = errorCode(error);
      const failure = { reason: `${origin} failed: ${(error as Error).message}`, code };
      // Refused before sending: nothing reached the node. After sending: only if harmless twice.
      if (CONNECT_ERRORS.has(code) || resendable) return { done: false, failure };
      this.log.warn('node failed while handling a request that is not safe to resend', { origin, path: ctx.path, error: error as Error });
      return {
        done: false,
        fatal: new MomError(
          'unavailable',
          `node ${origin} failed while handling this request (${code}); it may or may not have been stored. ` +
            'Retry; publish with a producer "id" so that a retry cannot store it twice',
          { details: { last_error: code } },
        ),
      };
    }

    if (response.statusCode === 421 || response.statusCode === 503) {
      const text = await readLimited(response.body, ERROR_BODY_LIMIT);
      const error = parseError(text);
      if (response.statusCode === 421 && error?.code === 'not_leader') {
        const hint = typeof error.node_location === 'string' ? error.node_location : undefined;
        return { done: false, failure: { reason: `${origin} does not lead the partition`, code: 'not_leader' }, hint };
      }
      if (response.statusCode === 503 && error && RETRYABLE_503.has(error.code)) {
        return { done: false, failure: { reason: `${origin} answered ${error.code}`, code: error.code } };
      }
      sendBuffered(ctx, response, text);
      return { done: true };
    }

    if (signal.aborted) {
      response.body.destroy();
      return { done: true };
    }
    // A node's answers are JSON of bounded size (≤ 1000 messages): one buffer, one write.
    if (signal === NEVER_ABORTED) {
      const buffer = Buffer.from(await response.body.arrayBuffer());
      const headers = responseHeaders(response.headers);
      headers['content-length'] = String(buffer.length);
      ctx.res.writeHead(response.statusCode, headers);
      ctx.res.end(buffer);
      return { done: true };
    }
    ctx.res.writeHead(response.statusCode, responseHeaders(response.headers));
    try {
      await pipeline(response.body, ctx.res);
    } catch (error) {
      // Headers are out: the client sees a cut answer. Nothing else can be done.
      if (!signal.aborted) this.log.debug('answer cut while copying it back', { origin, path: ctx.path, error: error as Error });
      ctx.res.destroy();
    }
    return { done: true };
  }

  /** Refreshes the routes, waiting at most `maxWaitMs` for it. */
  private async refreshRoutes(maxWaitMs: number): Promise<void> {
    if (!this.routes.refresh) return;
    let timer: NodeJS.Timeout | undefined;
    const refreshed = this.routes.refresh().catch((error: unknown) => {
      this.log.debug('route refresh failed', { error: error as Error });
    });
    try {
      await Promise.race([refreshed, new Promise<void>((resolve) => (timer = setTimeout(resolve, maxWaitMs)))]);
    } finally {
      clearTimeout(timer);
    }
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.connections,
        connect: { timeout: this.connectTimeoutMs },
        headersTimeout: this.responseTimeoutMs,
        bodyTimeout: this.responseTimeoutMs,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /** Lets forwarded requests in flight finish, then closes the pools. Idempotent. */
  close(): Promise<void> {
    this.closed = true;
    this.closing ??= (async () => {
      const pools = [...this.pools.values()];
      this.pools.clear();
      await Promise.all(pools.map((pool) => pool.close().catch(() => {})));
    })();
    return this.closing;
  }
}

/**
 * Whether a request may be sent again after a connection broke mid-way (it may have been
 * processed). Reads, declares and deletes are idempotent; a second ack or nack of the same ids
 * lists them as unknown. A publish is not: it could be stored twice.
 */
export function isResendable(method: string, path: string): boolean {
  if (method !== 'POST') return true;
  // MOM-py's POST / pushes, or pulls with ack on delivery: neither is harmless twice.
  if (path === '/') return false;
  return !/\/messages\/?$/.test(path);
}

function forwardedHeaders(req: IncomingMessage, body: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const peer = req.socket.remoteAddress;
  const prior = req.headers['x-forwarded-for'];
  if (peer) headers['x-forwarded-for'] = typeof prior === 'string' && prior !== '' ? `${prior}, ${peer}` : peer;
  if (body !== '' && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
  return headers;
}

function responseHeaders(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const copied: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name.toLowerCase())) continue;
    copied[name] = value;
  }
  return copied;
}

function sendBuffered(ctx: RequestContext, response: Dispatcher.ResponseData, text: string): void {
  const headers = responseHeaders(response.headers);
  delete headers['content-length'];
  headers['content-length'] = String(Buffer.byteLength(text));
  ctx.res.writeHead(response.statusCode, headers);
  ctx.res.end(text);
}

async function readLimited(body: Dispatcher.ResponseData['body'], limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += buffer.length;
    if (size > limit) {
      body.destroy();
      break;
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseError(text: string): (Record<string, unknown> & { code: string }) | undefined {
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    const error = parsed?.error;
    if (typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string') {
      return error as Record<string, unknown> & { code: string };
    }
  } catch {
    // not JSON: not one of ours, pass it on as it is
  }
  return undefined;
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown })?.code ?? (error as { cause?: { code?: unknown } })?.cause?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
