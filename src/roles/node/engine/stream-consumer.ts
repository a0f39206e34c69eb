import type { MomError } from '../../../core/errors';
import type { DeliveredMessage } from './consumption';
import type { InboxDelivery, InboxStream, Lease, LeaseOwner } from './inbox-delivery';

/** Where a stream's events go: the HTTP response, behind an interface so the engine never sees a socket. */
export interface EventSink {
  /** Writes `text`; false once the socket's buffer is full (then wait for `onDrain`). */
  write(text: string): boolean;
  /** True while the buffer is full: nothing more is leased for this stream until it drains. */
  readonly full: boolean;
  onDrain(listener: () => void): void;
  /** Ends the response. */
  end(): void;
}

export interface StreamOptions {
  /** Delivered-but-unsettled messages this stream may hold (1-1000). */
  prefetch: number;
  leaseMs: number;
  /** The user id of the consumer: its leases are its own (DESIGN §7). */
  user: number;
  /** An idle stream gets `: keepalive` at least this often (DESIGN §8: 15 s at most). */
  keepaliveMs: number;
  /** Renders one message as the event's data (the same JSON object a pull returns). */
  render: (message: DeliveredMessage) => string;
}


/**
 * One push consumer of an inbox (DESIGN §8 streams): Server-Sent Events, one per message, at
 * most `prefetch` of them delivered and not yet settled. Its credit comes back when an ack or
 * nack of one of its messages is committed, or when the lease of one expires.
 */
export class StreamConsumer implements LeaseOwner, InboxStream {
  /** Ids of the leases this stream holds: its messages delivered and not yet settled. */
  readonly held = new Set<string>();
  private ended = false;
  private lastWriteAt = Date.now();
  private readonly keepaliveTimer: NodeJS.Timeout;
  private readonly endedPromise: Promise<void>;
  private resolveEnded: () => void = () => {};
  /** Set by Streaming: asks for a dispatch once this stream can take messages again. */
  onCredit: () => void = () => {};
  /** Set by Streaming: gives back what this stream holds once it ends. */
  onEnd: (consumer: StreamConsumer) => void = () => {};

  constructor(
    readonly delivery: InboxDelivery,
    private readonly sink: EventSink,
    readonly options: StreamOptions,
  ) {
    this.endedPromise = new Promise((resolve) => (this.resolveEnded = resolve));
    // Checked five times per period: a keepalive goes out at most a fifth of it late.
    this.keepaliveTimer = setInterval(() => this.keepalive(), Math.max(20, Math.floor(options.keepaliveMs / 5)));
    this.keepaliveTimer.unref();
    sink.onDrain(() => this.onCredit());
  }

  /** Messages this stream may be given now: none while ended or while its socket is full. */
  get credit(): number {
    if (this.ended || this.sink.full) return 0;
    return this.options.prefetch - this.held.size;
  }

  get leaseMs(): number {
    return this.options.leaseMs;
  }

  get user(): number {
    return this.options.user;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Resolves once the stream has ended, from either side. */
  whenEnded(): Promise<void> {
    return this.endedPromise;
  }

  holds(lease: Lease): void {
    this.held.add(lease.id);
  }

  /** One of its messages was settled (or its lease expired): the credit comes back. */
  released(id: string): void {
    if (this.held.delete(id) && !this.ended) this.onCredit();
  }

  /** Writes one event per message, in one write. */
  send(messages: readonly DeliveredMessage[]): void {
    if (this.ended || messages.length === 0) return;
    let text = '';
    for (const message of messages) text += `event: message\nid: ${message.msg_id}\ndata: ${this.options.render(message)}\n\n`;
    this.lastWriteAt = Date.now();
    this.sink.write(text);
  }

  private keepalive(): void {
    if (this.ended || this.sink.full || Date.now() - this.lastWriteAt < this.options.keepaliveMs) return;
    this.lastWriteAt = Date.now();
    this.sink.write(': keepalive\n\n');
  }

  /**
   * Ends the stream. With `reason` (the server ends it) an `error` event says why first, so
   * the client knows whether to reconnect. What it held is given back (see Streaming). Idempotent.
   */
  end(reason?: MomError): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.keepaliveTimer);
    if (reason) {
      this.sink.write(`event: error\ndata: ${JSON.stringify({ error: { code: reason.code, message: reason.message } })}\n\n`);
    }
    this.sink.end();
    this.onEnd(this);
    this.resolveEnded();
  }
}
