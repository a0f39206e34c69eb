/**
 * A connection to a mombroker gateway (or an all-in-one broker): one HTTP pool, one token,
 * and the request pipeline every handle uses: bearer auth, one re-login on 401, bounded
 * retries of what is safe to retry, and the server's `{"error":{…}}` turned into
 * MomClientError (DESIGN §8). One concept past 350 lines: the SDK's connection and its
 * request pipeline, which every handle shares.
 */
import { TokenManager } from './auth';
import type { ApiRequest, ApiResponse, ClientContext, Flushable, OpenStream, PublishSettings, StreamRequest } from './context';
import { declare } from './declare';
import { closedError, errorFromAbort, MomClientError } from './errors';
import { HttpTransport, type TrustedCa } from './http-transport';
import { LeaderRouter } from './leader-routing';
import { listExchanges, listQueues, listTopics } from './listing';
import { exchangePath, queryString } from './paths';
import { Queue } from './queue';
import { errorFromResponse, leaderCouldNotServe, mayRetry, parseBody, retryAfterOf } from './answers';
import { backoffDelay, delay } from './retry';
import { Topic } from './topic';
import type { DeclareResult, ExchangeInfo, QueueListing, TopicListing, WireAuthResponse } from './types';

export interface ConnectOptions {
  /** Base URL of the gateway, e.g. `http://127.0.0.1:8080` (a path prefix is kept). */
  url: string;
  user?: string;
  password?: string;
  /** Start with this bearer token instead of logging in; with a password, a 401 still logs in. */
  token?: string;
  /** Sockets in the pool (default 16). Each running long poll holds one. */
  connections?: number;
  /** Time allowed for an answer, on top of a long poll's wait (default 30000 ms). */
  requestTimeoutMs?: number;
  /** How long a request keeps being retried on 503, 429, or network errors (default 10000 ms). */
  retryDeadlineMs?: number;
  /** `all` (default): publishes are answered once replicated; `leader`: once the leader stored them. */
  acks?: 'all' | 'leader';
  /** Publish requests in flight per queue or topic (default 4). */
  maxPublishRequestsInFlight?: number;
  /**
   * For an `https://` URL: the CA certificate(s), PEM, that signed the server's certificate,
   * trusted instead of the system's CAs (e.g. `readFileSync('ca.pem')`). Without it the
   * system's CAs decide; an untrusted certificate fails with code `tls_error`.
   */
  ca?: TrustedCa;
  /**
   * `gateway` (default): every request goes to `url`. `leader`: requests on a queue, topic or
   * subscription go straight to its partition's leader, found in the gateway's partition map,
   * and fall back to `url` whenever a node cannot take them (see leader-routing.ts). For a
   * cluster whose nodes' URLs (`--advertise-url`) the client can reach.
   */
  routing?: 'gateway' | 'leader';
}

export interface ConnectionStats {
  /** HTTP requests sent, logins and retries included. */
  requests: number;
  logins: number;
  retries: number;
  /** Requests sent straight to a partition leader (routing `leader`). */
  direct: number;
}

type State = 'open' | 'closing' | 'closed';

/** A stream's server sends a keepalive at least every 15 s: silence past this means the connection is dead. */
const STREAM_IDLE_TIMEOUT_MS = 45_000;


/**
 * Connects and logs in with user and password (unless given a token); rejects on bad
 * credentials. Without any credentials the connection is anonymous: only `health()` and
 * other unauthenticated endpoints answer.
 */
export async function connect(options: ConnectOptions): Promise<Connection> {
  const connection = new Connection(options);
  if (options.password !== undefined && options.token === undefined) {
    try {
      await connection.login();
    } catch (error) {
      await connection.close();
      throw error;
    }
  }
  return connection;
}

export class Connection {
  readonly url: string;
  private readonly user: string | undefined;
  private readonly transport: HttpTransport;
  private readonly tokens: TokenManager;
  /** Neither a password nor a token: only /health and /metrics will answer. */
  private readonly anonymous: boolean;
  private readonly requestTimeoutMs: number;
  private readonly retryDeadlineMs: number;
  private readonly context: ClientContext;
  private readonly handles = new Map<string, Flushable>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly closeController = new AbortController();
  private readonly counters: ConnectionStats = { requests: 0, logins: 0, retries: 0, direct: 0 };
  private readonly router: LeaderRouter | undefined;
  private state: State = 'open';
  private closing: Promise<void> | undefined;
  private validatedUser: Promise<string> | undefined;

  constructor(options: ConnectOptions) {
    if (typeof options !== 'object' || options === null) throw invalid('connect: expected options {url, user, password}');
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw invalid(`url: expected an http:// URL, got ${JSON.stringify(options.url)}`);
    }
    for (const key of ['user', 'password', 'token'] as const) {
      const value = options[key];
      if (value !== undefined && (typeof value !== 'string' || value === '')) throw invalid(`${key}: expected a non-empty string`);
    }
    if (options.user !== undefined && options.password === undefined && options.token === undefined) throw invalid(`connect: no password for user ${options.user}`);
    if (options.password !== undefined && options.user === undefined) throw invalid('connect: user is required with password');
    if (options.acks !== undefined && options.acks !== 'all' && options.acks !== 'leader') throw invalid(`acks: expected "all" or "leader", got ${JSON.stringify(options.acks)}`);
    this.url = url.href.replace(/\/+$/, '');
    this.user = options.user;
    this.requestTimeoutMs = positiveInteger('requestTimeoutMs', options.requestTimeoutMs, 30_000);
    this.retryDeadlineMs = positiveInteger('retryDeadlineMs', options.retryDeadlineMs, 10_000, true);
    // Limits of the server: 1000 messages and 1 MiB per publish request (DESIGN §8).
    const publishSettings: PublishSettings = {
      acks: options.acks ?? 'all',
      maxRequestsInFlight: positiveInteger('maxPublishRequestsInFlight', options.maxPublishRequestsInFlight, 4),
      maxBatchMessages: 1000,
      maxBatchBytes: 900 * 1024,
    };
    const connections = positiveInteger('connections', options.connections, 16);
    if (options.ca !== undefined && !isTrustedCa(options.ca)) throw invalid('ca: expected PEM text, a Buffer, or a list of them');
    if (options.routing !== undefined && options.routing !== 'gateway' && options.routing !== 'leader') throw invalid(`routing: expected "gateway" or "leader", got ${JSON.stringify(options.routing)}`);
    const transportOptions = { connections, ...(options.ca !== undefined ? { ca: options.ca } : {}) };
    this.transport = new HttpTransport(url, transportOptions);
    this.router = options.routing === 'leader' ? new LeaderRouter(this.transport, transportOptions) : undefined;
    this.anonymous = options.password === undefined && options.token === undefined;
    const password = options.password;
    const user = options.user;
    this.tokens = new TokenManager(password === undefined || user === undefined ? undefined : () => this.postAuth(user, password), options.token);
    this.context = {
      request: (request) => this.track(request),
      openStream: (request) => this.openStream(request),
      assertOpen: () => this.assertOpen(),
      closeSignal: this.closeController.signal,
      username: () => this.username(),
      handle: (key, create) => this.handle(key, create),
      publishSettings,
      retryDeadlineMs: this.retryDeadlineMs,
    };
  }

  /** A handle on queue `name` of `exchange` (no request; see Queue.declare). */
  queue(exchange: string, name: string): Queue {
    return this.handle(`q\0${exchange}\0${name}`, () => new Queue(this.context, exchange, name));
  }

  /** A handle on topic `name` of `exchange` (no request; see Topic.declare). */
  topic(exchange: string, name: string): Topic {
    return this.handle(`t\0${exchange}\0${name}`, () => new Topic(this.context, exchange, name));
  }

  /** PUT /v1/exchanges/{ex}: created, or already there. */
  declareExchange(exchange: string): Promise<DeclareResult> {
    return declare(this.context, exchangePath(exchange), undefined);
  }

  /** DELETE /v1/exchanges/{ex}; `force` deletes it even when not empty. */
  async deleteExchange(exchange: string, options: { force?: boolean } = {}): Promise<void> {
    this.assertOpen();
    await this.request({ method: 'DELETE', path: exchangePath(exchange), query: { force: options.force ? true : undefined }, idempotent: true });
  }

  /** GET /v1/exchanges: the exchanges this user has a grant on. */
  listExchanges(): Promise<ExchangeInfo[]> {
    return listExchanges(this.context);
  }

  /** GET /v1/exchanges/{ex}/queues: every queue of the exchange with its stats, by name. */
  listQueues(exchange: string): Promise<QueueListing[]> {
    return listQueues(this.context, exchange);
  }

  /** GET /v1/exchanges/{ex}/topics: every topic of the exchange with its subscriptions' stats, by name. */
  listTopics(exchange: string): Promise<TopicListing[]> {
    return listTopics(this.context, exchange);
  }

  /** GET /health (no token needed). */
  async health(): Promise<unknown> {
    this.assertOpen();
    return (await this.request({ method: 'GET', path: '/health', idempotent: true, auth: false })).body;
  }

  /** The user this connection acts as. */
  username(): Promise<string> {
    if (this.user !== undefined) return Promise.resolve(this.user);
    this.validatedUser ??= this.request<{ user?: { username?: string } }>({ method: 'POST', path: '/validate', idempotent: true }).then((response) => {
      const username = response.body?.user?.username;
      if (typeof username !== 'string') throw new MomClientError('bad_response', 'POST /validate answered without user.username');
      return username;
    });
    return this.validatedUser;
  }

  /** Logs in now (connect() does it once); later logins happen by themselves. */
  async login(): Promise<void> {
    this.assertOpen();
    if (!this.tokens.canLogin) throw new MomClientError('invalid_argument', 'login: this connection has no user and password');
    await this.tokens.login();
  }

  /**
   * Any API call with this connection's token, re-login and retries: the escape hatch for
   * endpoints without a method here. JSON answers are parsed; others come back as text.
   */
  request<T = unknown>(request: ApiRequest): Promise<ApiResponse<T>> {
    if (this.state !== 'open') return Promise.reject(closedError());
    return this.track(request);
  }

  /** Every request goes through here, so that close() can wait for the ones in flight. */
  private track<T>(request: ApiRequest): Promise<ApiResponse<T>> {
    if (this.state === 'closed') return Promise.reject(closedError());
    const performing = this.perform<T>(request);
    this.inFlight.add(performing);
    const forget = (): void => {
      this.inFlight.delete(performing);
    };
    performing.then(forget, forget);
    return performing;
  }

  private async openStream(request: StreamRequest): Promise<OpenStream> {
    this.assertOpen();
    const path = request.path + queryString(request.query);
    let renewed = false;
    let direct = this.router?.transportFor(request.path);
    for (;;) {
      const token = this.anonymous ? undefined : await this.tokens.get();
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      this.counters.requests++;
      if (direct) this.counters.direct++;
      let error: MomClientError;
      try {
        const response = await (direct ?? this.transport).stream({ method: 'GET', path, headers, signal: request.signal, idleTimeoutMs: STREAM_IDLE_TIMEOUT_MS });
        if (response.status === 200) return { chunks: response.body };
        error = errorFromResponse({ status: response.status, headers: response.headers, text: await response.text() }, { method: 'GET', path: request.path, idempotent: true }, path);
      } catch (caught) {
        if (!(caught instanceof MomClientError) || !direct) throw caught;
        error = caught;
      }
      if (direct && leaderCouldNotServe(error)) {
        this.router!.invalidate();
        direct = undefined;
        continue;
      }
      if (error.status === 401 && !renewed && this.tokens.canLogin) {
        renewed = true;
        await this.tokens.renew(token);
        continue;
      }
      throw error;
    }
  }

  /** Counters since connect(). */
  stats(): ConnectionStats {
    return { ...this.counters };
  }

  get closed(): boolean {
    return this.state !== 'open';
  }

  /** Sends buffered publishes and acks of every handle now. */
  async flush(): Promise<void> {
    await Promise.all([...this.handles.values()].map((handle) => handle.flush()));
  }

  /**
   * Stops consumers and long polls, sends buffered publishes and acks, waits for requests
   * in flight, and closes the sockets. Idempotent; calls made afterwards reject with `closed`.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.state = 'closing';
    this.closeController.abort(closedError());
    await Promise.allSettled([...this.handles.values()].map((handle) => handle.flush()));
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    this.state = 'closed';
    await this.router?.close();
    await this.transport.close();
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw closedError();
  }

  private handle<T extends Flushable>(key: string, create: () => T): T {
    this.assertOpen();
    let handle = this.handles.get(key);
    if (handle === undefined) {
      handle = create();
      this.handles.set(key, handle);
    }
    return handle as T;
  }

  private async postAuth(user: string, password: string): Promise<WireAuthResponse> {
    this.counters.logins++;
    const response = await this.perform<WireAuthResponse>({
      method: 'POST',
      path: '/auth',
      body: JSON.stringify({ user, pass: password }),
      idempotent: true,
      auth: false,
    });
    return response.body;
  }

  private async perform<T>(request: ApiRequest): Promise<ApiResponse<T>> {
    const deadline = Date.now() + this.retryDeadlineMs;
    const path = request.path + queryString(request.query);
    const timeoutMs = this.requestTimeoutMs + (request.extraTimeoutMs ?? 0);
    let attempt = 0;
    let renewed = false;
    let direct = request.auth === false ? undefined : this.router?.transportFor(request.path);
    for (;;) {
      let token: string | undefined;
      let error: MomClientError;
      try {
        token = request.auth === false || this.anonymous ? undefined : await this.tokens.get();
        const headers: Record<string, string> = { accept: 'application/json' };
        if (token !== undefined) headers.authorization = `Bearer ${token}`;
        if (request.body !== undefined) headers['content-type'] = 'application/json';
        this.counters.requests++;
        if (direct) this.counters.direct++;
        const response = await (direct ?? this.transport).request({ method: request.method, path, headers, body: request.body, signal: request.signal, timeoutMs });
        if (response.status >= 200 && response.status < 300) return { status: response.status, body: parseBody(response, request, path) as T };
        error = errorFromResponse(response, request, path);
      } catch (caught) {
        if (!(caught instanceof MomClientError)) throw caught;
        error = caught;
      }
      // A rejected token gets one fresh login, whatever the reason (expired, key rotated).
      if (error.status === 401 && request.auth !== false && !renewed && this.tokens.canLogin) {
        renewed = true;
        await this.tokens.renew(token);
        continue;
      }
      // A leader that could not take it: the gateway can, at once (it finds the leader now).
      if (direct && leaderCouldNotServe(error)) {
        this.router!.invalidate();
        direct = undefined;
        if (mayRetry(request, error)) continue;
        throw error;
      }
      if (!mayRetry(request, error)) throw error;
      const wait = Math.max(backoffDelay(attempt), retryAfterOf(error) ?? 0);
      if (Date.now() + wait > deadline) throw error;
      attempt++;
      this.counters.retries++;
      try {
        await delay(wait, request.signal);
      } catch {
        throw errorFromAbort(request.signal!);
      }
    }
  }
}

function invalid(message: string): MomClientError {
  return new MomClientError('invalid_argument', message);
}

function positiveInteger(name: string, value: number | undefined, fallback: number, zeroAllowed = false): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < (zeroAllowed ? 0 : 1)) throw invalid(`${name}: expected a ${zeroAllowed ? 'non-negative' : 'positive'} integer, got ${JSON.stringify(value)}`);
  return value;
}

function isTrustedCa(value: unknown): value is TrustedCa {
  const one = (item: unknown) => (typeof item === 'string' && item !== '') || Buffer.isBuffer(item);
  return one(value) || (Array.isArray(value) && value.length > 0 && value.every(one));
}
