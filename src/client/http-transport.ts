/**
 * Raw HTTP for the SDK: one undici Pool per origin (keep-alive, no pipelining, a bounded
 * number of sockets). It knows nothing of tokens, JSON or retries; it turns transport
 * failures into MomClientError (`network_error`, `timeout`, `aborted`) and tells whether a
 * failed request can have reached the server.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';
import { closedError, errorFromAbort, MomClientError } from './errors';

export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'DELETE';

export interface TransportRequest {
  method: HttpMethod;
  /** Path and query, starting with `/`; the base URL's own path is prepended. */
  path: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** Time allowed for the response headers and, separately, for the body. */
  timeoutMs: number;
}

export interface TransportResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** A response whose body is read as it comes (a Server-Sent Events stream). */
export interface StreamingResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body, chunk by chunk; it ends when the server ends it or the request is aborted. */
  body: AsyncIterable<Buffer>;
  /** The whole body as text (for an error answer). */
  text(): Promise<string>;
}

export interface HttpTransportOptions {
  /** Sockets per origin (default 16). */
  connections?: number;
  /** For https:// URLs: the CA certificate(s), PEM, to trust instead of the system's. */
  ca?: TrustedCa;
}

/** PEM CA certificates: one, or a list (a bundle). */
export type TrustedCa = string | Buffer | Array<string | Buffer>;

/**
 * Node's codes for a server certificate that does not verify (https://nodejs.org/api/tls.html,
 * OpenSSL's X509_V_ERR_* names), and for a server that does not answer TLS at all.
 */
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const NOT_TLS_CODES = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'EPROTO']);

/** Failures that happen before a request is written, so it cannot have reached the server. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/** A network error raised before the request was written: safe to retry even a publish without ids. */
const notSentErrors = new WeakSet<MomClientError>();

export function requestWasNotSent(error: MomClientError): boolean {
  return notSentErrors.has(error);
}

function causeCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // Happy-eyeballs connects fail with an AggregateError of per-address errors.
  const inner = (error as { errors?: unknown[] }).errors;
  return Array.isArray(inner) ? causeCode(inner[0]) : undefined;
}

export class HttpTransport {
  readonly origin: string;
  private readonly basePath: string;
  private readonly pool: Pool;
  /** Streams hold a socket each for as long as they live: a pool of their own, without a bound. */
  private readonly streamPool: Pool;
  private closed = false;

  constructor(baseUrl: URL, options: HttpTransportOptions = {}) {
    if (baseUrl.protocol !== 'http:' && baseUrl.protocol !== 'https:') {
      throw new MomClientError('invalid_argument', `url: expected http:// or https://, got ${JSON.stringify(baseUrl.href)}`);
    }
    this.origin = baseUrl.origin;
    this.basePath = baseUrl.pathname.replace(/\/+$/, '');
    // Both pools, the stream one too, check the server's certificate against the same CA.
    const connect = options.ca !== undefined && baseUrl.protocol === 'https:' ? { connect: { ca: options.ca } } : {};
    this.pool = new Pool(this.origin, {
      connections: options.connections ?? 16,
      pipelining: 1,
      keepAliveTimeout: 4_000,
      ...connect,
    });
    this.streamPool = new Pool(this.origin, { connections: null, pipelining: 1, keepAliveTimeout: 4_000, ...connect });
  }

  /**
   * Opens a long-lived response (a stream of events). `idleTimeoutMs` bounds the wait for the
   * head and between two chunks: the server sends a keepalive well within it.
   */
  async stream(request: Omit<TransportRequest, 'timeoutMs'> & { idleTimeoutMs: number }): Promise<StreamingResponse> {
    if (this.closed) throw closedError();
    if (request.signal?.aborted) throw errorFromAbort(request.signal);
    const asRequest: TransportRequest = { ...request, timeoutMs: request.idleTimeoutMs };
    try {
      const response = await this.send(this.streamPool, asRequest);
      const body = response.body;
      const chunks = (async function* (transport: HttpTransport): AsyncGenerator<Buffer> {
        try {
          for await (const chunk of body) yield chunk as Buffer;
        } catch (error) {
          throw transport.toClientError(error, asRequest);
        }
      })(this);
      return { status: response.statusCode, headers: response.headers, body: chunks, text: () => body.text() };
    } catch (error) {
      throw this.toClientError(error, asRequest);
    }
  }

  async request(request: TransportRequest): Promise<TransportResponse> {
    if (this.closed) throw closedError();
    if (request.signal?.aborted) throw errorFromAbort(request.signal);
    try {
      const response = await this.send(this.pool, request);
      const text = await response.body.text();
      return { status: response.statusCode, headers: response.headers, text };
    } catch (error) {
      throw this.toClientError(error, request);
    }
  }

  /** `timeoutMs` bounds the wait for the head, and then for each chunk of the body. */
  private send(pool: Pool, request: TransportRequest) {
    return pool.request({
      origin: this.origin,
      method: request.method,
      path: this.basePath + request.path,
      headers: request.headers,
      body: request.body,
      signal: request.signal,
      headersTimeout: request.timeoutMs,
      bodyTimeout: request.timeoutMs,
    });
  }

  /** Lets in-flight requests finish, then closes the sockets. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.pool.close(), this.streamPool.destroy()]);
  }

  toClientError(error: unknown, request: TransportRequest): MomClientError {
    if (error instanceof MomClientError) return error;
    if (request.signal?.aborted) return errorFromAbort(request.signal);
    const code = causeCode(error);
    const what = `${request.method} ${this.origin}${this.basePath}${request.path.split('?')[0]}`;
    const detail = error instanceof Error ? error.message : String(error);
    if (code === 'UND_ERR_DESTROYED' || code === 'UND_ERR_CLOSED') {
      return new MomClientError('closed', `${what}: the connection is closed`, { cause: error });
    }
    if (code !== undefined && (CERTIFICATE_CODES.has(code) || NOT_TLS_CODES.has(code))) {
      // A retry would meet the same certificate: fail at once, saying what to do. Nothing was sent.
      const hint = CERTIFICATE_CODES.has(code)
        ? `the server's TLS certificate is not trusted (${detail}); give the CA that signed it (connect({ ca }), or --ca FILE / MOM_CA on the command line)`
        : `the TLS handshake failed (${detail}); is ${this.origin} serving HTTPS? Use http:// for a server without --tls-cert`;
      const tlsError = new MomClientError('tls_error', `${what}: ${hint}`, { retryable: false, cause: error });
      notSentErrors.add(tlsError);
      return tlsError;
    }
    const isTimeout = code !== undefined && TIMEOUT_CODES.has(code);
    const clientError = new MomClientError(
      isTimeout ? 'timeout' : 'network_error',
      isTimeout ? `${what}: no response within ${request.timeoutMs} ms` : `${what} failed: ${detail}${code && !detail.includes(code) ? ` (${code})` : ''}`,
      { retryable: true, cause: error },
    );
    if (code !== undefined && NOT_SENT_CODES.has(code)) notSentErrors.add(clientError);
    return clientError;
  }
}
