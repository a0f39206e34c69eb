import type { IncomingHttpHeaders } from 'node:http';
import { errors as undiciErrors, type Dispatcher } from 'undici';

/** The most of a 421/503/507 answer read to decide whether to retry (they are small JSON errors). */
const ERROR_BODY_LIMIT = 64 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * A node's answer to one forwarded attempt, as undici's dispatch handler: collects the answer and
 * settles once, when it is complete or has failed. `headers` stays null unless an answer
 * (status 200 or above) started, which tells a failure to answer from an answer cut short.
 */
export class UpstreamAnswer implements Dispatcher.DispatchHandler {
  statusCode = 0;
  headers: IncomingHttpHeaders | null = null;
  error: Error | null = null;
  readonly settled: Promise<void>;
  private chunks: Buffer[] = [];
  private size = 0;
  private finished = false;
  private cancelled = false;
  private controller: Dispatcher.DispatchController | null = null;
  private resolve: (() => void) | null = null;

  constructor() {
    this.settled = new Promise<void>((resolve) => {
      this.resolve = resolve;
    });
  }

  /** Ends the upstream request, now or, if it is still queued in the pool, as soon as it starts. */
  cancel(): void {
    this.cancelled = true;
    if (this.controller && !this.finished) this.controller.abort(new undiciErrors.RequestAbortedError());
  }

  /** The answer's body as one buffer (usually the one chunk it came in). */
  body(): Buffer {
    if (this.chunks.length === 1) return this.chunks[0]!;
    return this.chunks.length === 0 ? EMPTY : Buffer.concat(this.chunks, this.size);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.cancelled) controller.abort(new undiciErrors.RequestAbortedError());
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    // 1xx answers are informational; the real one follows.
    if (statusCode < 200) return;
    this.statusCode = statusCode;
    this.headers = headers;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.finished) return;
    if ((this.statusCode === 421 || this.statusCode === 503 || this.statusCode === 507) && this.size + chunk.length > ERROR_BODY_LIMIT) {
      // Not one of a node's small errors: decide on what came so far and drop the connection.
      this.finish();
      controller.abort(new Error(`a ${this.statusCode} answer larger than ${ERROR_BODY_LIMIT} bytes`));
      return;
    }
    this.size += chunk.length;
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    this.finish();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.finished) return;
    this.error = error;
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.resolve?.();
    this.resolve = null;
  }
}
