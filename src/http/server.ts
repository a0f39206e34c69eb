import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { MomError } from '../core/errors';
import type { Logger } from '../runtime/logger';
import { sendError } from './response';
import { methodNotAllowed, type RequestContext, type Router } from './router';

/** Longer than the 30 s long-poll bound plus the time to answer it. */
const IDLE_SOCKET_TIMEOUT_MS = 45_000;

export interface HttpServerOptions {
  host: string;
  port: number;
  logger: Logger;
  /** Slow-client guards: whole-request and header deadlines, idle keep-alive. */
  requestTimeoutMs?: number;
  headersTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /**
   * Bind at start() but answer 503 `unavailable` until ready() (a process binds its port
   * first, so that a port in use ends the start before anything is written: DESIGN §8).
   */
  holdUntilReady?: boolean;
  /**
   * Open connections this listener serves (`maxConnections`). A request on a connection past
   * it is answered 429 `too_many_requests` and the connection closed; past a margin above it,
   * new connections are dropped unanswered so descriptors cannot run out.
   */
  maxConnections?: number;
  /** Serve HTTPS with this certificate (chain) and key, PEM (DESIGN §7: `--tls-cert`, `--tls-key`). */
  tls?: { cert: Buffer; key: Buffer };
  /**
   * Told when a request ends: its method, the pattern of the route that took it (`unmatched`
   * when none did), its status and how long it took. For request metrics; it must be cheap.
   */
  onRequestDone?: RequestObserver;
}

/** See HttpServerOptions.onRequestDone. */
export type RequestObserver = (method: string, route: string, status: number, seconds: number) => void;

/** The route label of a request no router took (404, or refused before routing). */
export const UNMATCHED_ROUTE = 'unmatched';

/** A TLS handshake must end within the header deadline's time, or the connection is dropped. */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * One HTTP listener that several roles mount routers on (DESIGN §1: roles share a port in one
 * process). Routers are tried in mount order. `close()` stops accepting, lets in-flight
 * requests finish, then closes idle keep-alive sockets; calling it twice is harmless.
 */
export class HttpServer {
  private readonly server: Server;
  private readonly routers: Router[] = [];
  private readonly sockets = new Set<Socket>();
  private inFlight = 0;
  private closing: Promise<void> | undefined;
  private idleWaiters: Array<() => void> = [];
  private holding: boolean;
  /** Connections accepted past maxConnections: their requests get a 429 and they close. */
  private readonly overLimit = new WeakSet<Socket>();

  constructor(private readonly options: HttpServerOptions) {
    this.holding = options.holdUntilReady === true;
    // Node checks the header and request deadlines only every connectionsCheckingInterval
    // (30 s by default), so a slow client would hold its socket up to 40 s, not 10.
    const serverOptions = { keepAliveTimeout: options.keepAliveTimeoutMs ?? 5_000, connectionsCheckingInterval: 1_000 };
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
      void this.handle(req, res);
    };
    this.server = options.tls
      ? createHttpsServer({ ...serverOptions, cert: options.tls.cert, key: options.tls.key, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, onRequest)
      : createServer(serverOptions, onRequest);
    this.server.requestTimeout = options.requestTimeoutMs ?? 60_000;
    this.server.headersTimeout = options.headersTimeoutMs ?? 10_000;
    // A connection that never sends a byte is not covered by the header deadline; an idle
    // socket is closed after this, which stays above the longest long poll (30 s).
    this.server.timeout = IDLE_SOCKET_TIMEOUT_MS;
    const maxConnections = options.maxConnections;
    if (maxConnections !== undefined) this.server.maxConnections = maxConnections + Math.max(64, Math.ceil(maxConnections / 10));
    // `sockets` holds every TCP connection (TLS or not): what the limit counts and close() ends.
    this.server.on('connection', (socket: Socket) => {
      socket.setNoDelay(true);
      if (!options.tls && maxConnections !== undefined && this.sockets.size >= maxConnections) this.overLimit.add(socket);
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    if (options.tls) {
      // Over TLS a request's socket is the TLS socket wrapping the TCP one: mark that one.
      this.server.on('secureConnection', (socket: TLSSocket) => {
        if (maxConnections !== undefined && this.sockets.size > maxConnections) this.overLimit.add(socket);
      });
      // A client that does not trust the certificate, or speaks plain HTTP to this port.
      this.server.on('tlsClientError', (error: Error) => options.logger.debug('tls handshake failed', { error }));
    }
    this.server.on('clientError', (error, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      else socket.destroy();
      options.logger.debug('http client error', { error });
    });
  }

  /** Connections open now, for /metrics. */
  get openConnections(): number {
    return this.sockets.size;
  }

  mount(router: Router): this {
    this.routers.push(router);
    return this;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.once('error', onError);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
  }

  /** Starts answering requests (see `holdUntilReady`). */
  ready(): void {
    this.holding = false;
  }

  /** `http://host:port` (`https://` with TLS) as actually bound (port 0 becomes the real port). */
  url(): string {
    const address = this.server.address() as AddressInfo | null;
    if (!address) throw new MomError('unavailable', 'http server is not listening');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `${this.options.tls ? 'https' : 'http'}://${host}:${address.port}`;
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      // Idle keep-alive sockets would hold close() open; busy ones close after their response.
      // (server.close() ends idle HTTP connections itself; the loop below also covers sockets
      // that never sent a request. Over TLS those are TCP sockets under the TLS ones, which
      // would not tell busy from idle: close() and the final sweep cover them.)
      this.server.close(() => resolve());
      if (!this.options.tls) {
        for (const socket of this.sockets) {
          if (!(socket as Socket & { _httpMessage?: unknown })._httpMessage) socket.destroy();
        }
      }
      void this.whenIdle().then(() => {
        for (const socket of this.sockets) socket.destroy();
      });
    });
    return this.closing;
  }

  private whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.inFlight++;
    const onDone = this.options.onRequestDone;
    const started = onDone ? performance.now() : 0;
    let route = UNMATCHED_ROUTE;
    if (this.closing) res.setHeader('connection', 'close');
    try {
      const target = req.url ?? '/';
      const url = new URL(target, 'http://localhost');
      // Route on the path as sent: URL parsing resolves "." and ".." segments, which would turn
      // DELETE .../queues/.. into DELETE of the exchange; here they stay (invalid) names.
      const path = target.startsWith('/') ? target.split('?', 1)[0]! : url.pathname;
      const method = req.method ?? 'GET';
      if (this.holding) throw new MomError('unavailable', 'the broker is starting; retry shortly');
      if (this.overLimit.has(req.socket)) {
        res.setHeader('connection', 'close');
        throw new MomError('too_many_requests', `this server has ${this.options.maxConnections} connections open, the most it serves (--max-connections); retry shortly or reuse a connection`);
      }
      for (const router of this.routers) {
        const match = router.match(method, path);
        if (!match) continue;
        const ctx: RequestContext = { req, res, params: match.params, query: url.searchParams, path };
        route = match.pattern;
        await match.handler(ctx);
        return;
      }
      req.resume();
      const allowed = new Set(this.routers.flatMap((router) => router.allowed(path)));
      if (allowed.size > 0) throw methodNotAllowed(method, path, [...allowed]);
      throw new MomError('not_found', `no route for ${method} ${path}`);
    } catch (error) {
      if (!(error instanceof MomError)) this.options.logger.error('request failed', { error, url: req.url });
      req.resume();
      sendError(res, error);
    } finally {
      onDone?.(req.method ?? 'GET', route, res.statusCode, (performance.now() - started) / 1000);
      this.inFlight--;
      if (this.inFlight === 0 && this.idleWaiters.length > 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const wake of waiters) wake();
      }
    }
  }
}
