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
 *
 * Every forwarded request pays for this path, so it stays close to undici's core: one
 * `Dispatcher.dispatch` handler per attempt collects the answer (a node's answers are JSON of
 * bounded size), which then goes out as one write with its Content-Length. No response
 * stream, no `pipeline`, and no AbortSignal: a long poll's client that goes away aborts the
 * upstream request through the handler's controller.
 */
import type { Dispatcher } from 'undici';
import { MomError, type ErrorCode } from '../../core/errors';
import { assertValidName, type NameKind } from '../../core/names';
import { DEFAULT_BODY_LIMIT, readBody } from '../../http/body';
import type { RequestContext } from '../../http/router';
import type { TokenVerifier } from '../../http/token-verifier';
import type { Logger } from '../../runtime/logger';
import type { Route } from '../../coordination/partition-map';
import type { NodeInfo } from '../../coordination/coordinator';
import type { GatewayMetrics } from './gateway-metrics';
import { errorCode, forwardedHeaders, hasBody, isResendable, parseError, sendAnswer } from './forwarded-http';
import { LongPollClient } from './long-poll-client';
import { NodePools } from './node-pools';
import { StreamRelay } from './stream-relay';
import { StreamSupervisor } from './stream-supervisor';
import { UpstreamAnswer } from './upstream-answer';

/** Where requests go: the gateway's PartitionMap, or anything that can answer the same questions. */
export interface RouteSource {
  /** The partition of `(exchange, name)` and its leader; may throw MomError `unavailable` while loading. */
  route(exchange: string, name: string): Route;
  /** Some live node for exchange-level requests (any node can serve them), or null if none is known. */
  anyLocation(): string | null;
  /** Asks for a fresher map after a node disagreed with it; a watched source may resolve at once. */
  refresh?(): Promise<void>;
  /** The whole map as this source knows it (the gateway's GET /partitions); undefined before it has one. */
  describe?(): PartitionsView | undefined;
}

/** The public map (DESIGN §6): every partition with its leader and ISR, and the live nodes. */
export interface PartitionsView {
  partitions: Array<Route & { isr: string[] }>;
  nodes: NodeInfo[];
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
  /**
   * How long a node may take to answer a request that does not wait (plus a long poll's
   * `wait_ms`), and the longest silence within a stream; default 40 s. A cluster's gateway
   * sets it to the ZooKeeper session timeout + 1 s: a node silent for that long is frozen or
   * cut off and its partitions are moving, so no request is held longer than a failover
   * takes (issue 11 §2).
   */
  responseTimeoutMs?: number;
  /** TCP connect timeout to a node; default 3 s. */
  connectTimeoutMs?: number;
  /** The CA nodes' HTTPS certificates are checked against (`--tls-ca`); default the system's CAs. */
  ca?: Buffer;
  /** First and largest pause between attempts; default 50 and 500 ms. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Where forwarding outcomes, retries and relayed streams are counted, for /metrics. */
  metrics?: GatewayMetrics;
}

/** A long poll's `wait_ms` (the node answers that much later by design), or 0. */
function longPollWaitMs(method: string, query: URLSearchParams): number {
  const wait = method === 'GET' ? Number(query.get('wait_ms') ?? 0) : 0;
  return Number.isFinite(wait) && wait > 0 ? Math.min(wait, 30_000) : 0;
}

/** Errors that happen before any byte of the request left: resending cannot duplicate it. */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);
/** 503 codes a node answers before storing anything (DESIGN §5: refused, not half-done). */
const RETRYABLE_503: ReadonlySet<string> = new Set<ErrorCode>(['unavailable', 'not_enough_replicas']);
/**
 * A node whose disk refuses writes stored nothing and is handing its partitions to other
 * replicas (DESIGN §5): the request goes to the new leader once the map names it.
 */
const RETRYABLE_507: ReadonlySet<string> = new Set<ErrorCode>(['insufficient_storage']);

/** Why the last attempt did not answer, for the final 503 and the logs. */
interface Failure {
  reason: string;
  code: string;
}

type Attempt =
  | { done: true }
  | { done: false; failure: Failure; hint?: string }
  | { done: false; fatal: MomError };

const DONE: Attempt = { done: true };

/** What `forward` sends upstream, the same on every attempt: undici's dispatch options, and whether a resend is harmless. */
interface Outgoing {
  method: Dispatcher.HttpMethod;
  path: string;
  /** Flat name/value list: undici takes it as it is, without walking an object's keys. */
  headers: string[];
  body: string | null;
  /** Ours, not undici's (it ignores what it does not know). */
  resendable: boolean;
  /** A push stream (`GET …/stream`): relayed as it comes, on a connection of its own. */
  stream: boolean;
  /** How long the node may take to send the head (undici's per-request option). */
  headersTimeout: number;
}

export class Forwarder {
  private readonly pools: NodePools;
  private readonly streams: StreamSupervisor;
  private readonly routes: RouteSource;
  private readonly verifier: TokenVerifier;
  private readonly log: Logger;
  private readonly bodyLimit: number;
  private readonly retryDeadlineMs: number;
  private readonly responseTimeoutMs: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly metrics: GatewayMetrics | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: ForwarderOptions) {
    this.routes = options.routes;
    this.verifier = options.verifier;
    this.log = options.logger.child({ component: 'gateway' });
    this.bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
    this.retryDeadlineMs = options.retryDeadlineMs ?? 10_000;
    this.responseTimeoutMs = options.responseTimeoutMs ?? 40_000;
    this.pools = new NodePools({
      connectionsPerNode: options.connectionsPerNode ?? 16,
      connectTimeoutMs: options.connectTimeoutMs ?? 3_000,
      responseTimeoutMs: this.responseTimeoutMs,
      ...(options.ca ? { ca: options.ca } : {}),
    });
    this.streams = new StreamSupervisor((exchange, name) => this.routes.route(exchange, name));
    this.backoffInitialMs = options.backoffInitialMs ?? 50;
    this.backoffMaxMs = options.backoffMaxMs ?? 500;
    this.metrics = options.metrics;
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
    const body = prepared?.body ?? (hasBody(ctx.req) ? await readBody(ctx.req, this.bodyLimit) : '');
    const method = (ctx.req.method ?? 'GET') as Dispatcher.HttpMethod;
    const path = prepared?.path ?? ctx.req.url ?? ctx.path;
    const query = path.indexOf('?');
    const outgoing: Outgoing = {
      method,
      path,
      headers: forwardedHeaders(ctx.req, body),
      body: body === '' ? null : body,
      resendable: isResendable(method, query === -1 ? path : path.slice(0, query), body),
      stream: method === 'GET' && /\/stream\/?$/.test(query === -1 ? path : path.slice(0, query)),
      headersTimeout: this.responseTimeoutMs + longPollWaitMs(method, ctx.query),
    };

    // A client that goes away from a long poll or a stream takes its upstream request with it.
    // Other requests answer quickly, and watching the client costs on every one of them.
    const waitMs = method === 'GET' ? ctx.query.get('wait_ms') : null;
    if (!outgoing.stream && (waitMs === null || waitMs === '0')) {
      await this.attemptUntilDeadline(ctx, target, outgoing, null);
      return;
    }
    const client = new LongPollClient(ctx.res);
    if (outgoing.stream && this.metrics) this.metrics.streamsOpen++;
    try {
      await this.attemptUntilDeadline(ctx, target, outgoing, client);
    } finally {
      if (outgoing.stream && this.metrics) this.metrics.streamsOpen--;
      client.release();
    }
  }

  private async attemptUntilDeadline(ctx: RequestContext, target: ForwardTarget, outgoing: Outgoing, client: LongPollClient | null): Promise<void> {
    const deadline = Date.now() + this.retryDeadlineMs;
    let pause = this.backoffInitialMs;
    let hint: { from: string; to: string } | undefined;
    let last: Failure = { reason: 'no attempt was made', code: 'unavailable' };
    for (let attempt = 1; ; attempt++) {
      if (client?.gone) return this.metrics?.ended('client_gone');
      let outcome: Attempt;
      let location: ReturnType<Forwarder['locate']>;
      try {
        location = this.locate(target, hint);
        if (location.origin === null) {
          outcome = { done: false, failure: location.failure };
        } else {
          outcome = await this.attempt(ctx, target, location.origin, outgoing, client);
        }
      } catch (error) {
        this.metrics?.ended('error');
        throw error;
      }
      if (outcome.done) return this.metrics?.ended(client?.gone ? 'client_gone' : 'answered');
      if ('fatal' in outcome) {
        this.metrics?.ended('not_resent');
        throw outcome.fatal;
      }
      last = outcome.failure;
      hint = outcome.hint !== undefined && location.origin !== null ? { from: location.origin, to: outcome.hint } : undefined;

      const remaining = deadline - Date.now();
      if (remaining <= 0 || client?.gone) break;
      this.metrics?.retried(last.code, CONNECT_ERRORS.has(last.code));
      this.log.debug('retrying after a failed forward', { attempt, path: ctx.path, reason: last.reason, pauseMs: pause });
      // The refresh runs during the pause; a slow one is not waited for past the deadline.
      const wait = Math.min(pause, remaining);
      await Promise.all([client ? client.sleep(wait) : sleep(wait), this.refreshRoutes(remaining)]);
      pause = Math.min(pause * 2, this.backoffMaxMs);
    }
    if (client?.gone) return this.metrics?.ended('client_gone');
    this.metrics?.ended('unavailable');
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

  private async attempt(ctx: RequestContext, target: ForwardTarget, origin: string, outgoing: Outgoing, client: LongPollClient | null): Promise<Attempt> {
    const answer = outgoing.stream ? new StreamRelay(ctx.res) : new UpstreamAnswer();
    if (client) client.answer = answer;
    // The head must come within outgoing.headersTimeout (a long poll's wait on top); each body
    // chunk within responseTimeoutMs (the pool's: a stream's node sends keepalives well within it).
    (outgoing.stream ? this.pools.forStreams(origin) : this.pools.forRequests(origin)).dispatch(outgoing, answer);
    if (answer instanceof StreamRelay && target.kind === 'partition') this.streams.watch(answer, { exchange: target.exchange, name: target.name, origin });
    try {
      await answer.settled;
    } finally {
      if (answer instanceof StreamRelay) this.streams.forget(answer);
    }
    if (client) {
      client.answer = null;
      if (client.gone) return DONE;
    }
    if (answer instanceof StreamRelay && answer.streamed) return DONE;

    const { error, headers, statusCode } = answer;
    if (headers === null) {
      // No answer: refused, cut, timed out, or the pool is closed.
      const failed = error ?? new Error('the node closed the exchange without an answer');
      const code = errorCode(failed);
      const failure = { reason: `${origin} failed: ${failed.message}`, code };
      // Refused before sending: nothing reached the node. After sending: only if harmless twice.
      if (CONNECT_ERRORS.has(code) || outgoing.resendable) return { done: false, failure };
      this.log.warn('node failed while handling a request that is not safe to resend', { origin, path: ctx.path, error: failed });
      if (code === 'UND_ERR_HEADERS_TIMEOUT') {
        // A frozen or cut-off leader: its partitions move within the session timeout; holding
        // the client longer helps no one, and resending could store the publish twice.
        return {
          done: false,
          fatal: new MomError(
            'timeout',
            `node ${origin} did not answer within ${outgoing.headersTimeout} ms; the publish may or may not be stored. ` +
              'Retry; publish with a producer "id" so that a retry cannot store it twice',
            { details: { last_error: code } },
          ),
        };
      }
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
    // The answer was cut after its headers: nothing has gone to the client yet, so it gets an error.
    if (error !== null) throw error;

    if (statusCode === 421 || statusCode === 503 || statusCode === 507) {
      const text = answer.body().toString('utf8');
      const parsed = parseError(text);
      if (statusCode === 421 && parsed?.code === 'not_leader') {
        const hint = typeof parsed.node_location === 'string' ? parsed.node_location : undefined;
        return { done: false, failure: { reason: `${origin} does not lead the partition`, code: 'not_leader' }, hint };
      }
      if (parsed && ((statusCode === 503 && RETRYABLE_503.has(parsed.code)) || (statusCode === 507 && RETRYABLE_507.has(parsed.code)))) {
        return { done: false, failure: { reason: `${origin} answered ${parsed.code}`, code: parsed.code } };
      }
    }
    sendAnswer(ctx.res, statusCode, headers, answer.body());
    return DONE;
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

  /** Lets forwarded requests in flight finish, then closes the pools (streams end at once). Idempotent. */
  close(): Promise<void> {
    this.closed = true;
    this.streams.close();
    this.closing ??= this.pools.close();
    return this.closing;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
