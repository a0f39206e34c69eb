import type { IncomingHttpHeaders, OutgoingHttpHeader, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { copiedResponseHeaders } from './forwarded-http';
import { UpstreamAnswer } from './upstream-answer';

/**
 * A node's answer to a forwarded stream request (DESIGN §6: streams go to the partition's
 * leader). An error answer (421, 503, 507) is collected like any other, so the forwarder can
 * retry elsewhere. A 200 is relayed as it comes: its head at once, then every chunk, with the
 * node's socket paused while the client's is full. When the node's side breaks (the leader
 * died or moved) the client gets a retryable `event: error` before the end, as a node
 * ending a stream would send, so that it reconnects and the gateway finds the new leader.
 */
export class StreamRelay extends UpstreamAnswer {
  /** True once the node's 200 went on to the client: there is no retrying after that. */
  streamed = false;

  constructor(private readonly res: ServerResponse) {
    super();
  }

  override onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    super.onResponseStart(controller, statusCode, headers);
    if (statusCode !== 200 || this.res.writableEnded) return;
    this.streamed = true;
    const copied: OutgoingHttpHeader[] = copiedResponseHeaders(headers);
    this.res.writeHead(200, copied);
    this.res.flushHeaders();
    this.res.on('drain', () => {
      if (!this.finished) this.controller?.resume();
    });
  }

  override onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.streamed) {
      super.onResponseData(controller, chunk);
      return;
    }
    if (this.finished || this.res.writableEnded) return;
    if (!this.res.write(chunk)) controller.pause();
  }

  override onResponseEnd(): void {
    if (this.streamed && !this.res.writableEnded) this.res.end();
    super.onResponseEnd();
  }

  override onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    if (this.streamed && !this.finished) {
      this.endRetryable(`the connection to the partition's leader broke (${error.message}); reconnect`);
      return;
    }
    super.onResponseError(controller, error);
  }

  /**
   * Ends a relayed stream with a retryable `event: error` (the client reconnects, through this
   * gateway, to whoever leads now) and drops the node's side. Idempotent.
   */
  endRetryable(message: string): void {
    if (this.finished) return;
    if (!this.res.writableEnded && !this.res.destroyed) {
      this.res.end(`event: error\ndata: ${JSON.stringify({ error: { code: 'unavailable', message } })}\n\n`);
    }
    this.cancel();
    this.finish();
  }
}
