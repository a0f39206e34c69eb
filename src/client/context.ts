/**
 * What the handles (queues, topics, subscriptions) need from their connection: one request
 * pipeline (auth, retries, error mapping), the connection's lifecycle, and a cache so that
 * every handle for the same queue shares one publish batcher.
 */
import type { HttpMethod } from './http-transport';

export interface ApiRequest {
  method: HttpMethod;
  /** Path under the base URL, segments already percent-encoded (see paths.ts). */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  /** JSON text. */
  body?: string;
  /**
   * Whether sending it twice does no harm, so it may be retried after it may have reached
   * the server (GET, PUT, ack, nack, publishes whose messages all carry producer ids).
   */
  idempotent: boolean;
  /** Send the bearer token (default true). */
  auth?: boolean;
  signal?: AbortSignal;
  /** Extra time to wait for the answer, on top of the request timeout (long polls). */
  extraTimeoutMs?: number;
}

/** A stream request (`GET …/stream`): no retries here, its consumer reconnects. */
export interface StreamRequest {
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  signal: AbortSignal;
}

/** An open event stream: its body as it comes. */
export interface OpenStream {
  chunks: AsyncIterable<Buffer>;
}

export interface ApiResponse<T> {
  status: number;
  body: T;
}

/** Something holding buffered work (publishes, acks) that close() must send first. */
export interface Flushable {
  flush(): Promise<void>;
}

export interface ClientContext {
  request<T>(request: ApiRequest): Promise<ApiResponse<T>>;
  /**
   * Opens a stream with the connection's token (one re-login on 401). An answer other than
   * 200 rejects with its MomClientError (retryable or not); there is no retry here.
   */
  openStream(request: StreamRequest): Promise<OpenStream>;
  /** Throws MomClientError `closed` once close() was called. */
  assertOpen(): void;
  /** Aborted when close() starts: long polls and consume loops end on it. */
  readonly closeSignal: AbortSignal;
  /** The user this connection acts as (from the options, or asked of POST /validate). */
  username(): Promise<string>;
  /** One handle per key for the connection's life, flushed by close(). */
  handle<T extends Flushable>(key: string, create: () => T): T;
  /** Publish tuning shared by every publisher of the connection. */
  readonly publishSettings: PublishSettings;
  /** How long requests are retried (and streams reopened) before an error is given up to the caller. */
  readonly retryDeadlineMs: number;
}

export interface PublishSettings {
  acks: 'all' | 'leader';
  maxRequestsInFlight: number;
  maxBatchBytes: number;
  maxBatchMessages: number;
}
