import type { ServerResponse } from 'node:http';

/**
 * A response as a Server-Sent Events stream (https://html.spec.whatwg.org/multipage/server-sent-events.html):
 * `200 text/event-stream`, sent at once, then events as they come. Writes go straight to the
 * socket (no buffering here); `full` says when the socket's buffer is full, so that the
 * writer stops producing until `onDrain`: a reader that stops reading holds back only itself.
 */
export class EventStreamResponse {
  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // Proxies that buffer responses (nginx) would hold events back.
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
  }

  write(text: string): boolean {
    if (this.res.writableEnded || this.res.destroyed) return false;
    return this.res.write(text);
  }

  get full(): boolean {
    return this.res.writableNeedDrain;
  }

  onDrain(listener: () => void): void {
    this.res.on('drain', listener);
  }

  onClose(listener: () => void): void {
    this.res.once('close', listener);
  }

  end(): void {
    if (!this.res.writableEnded) this.res.end();
  }
}
