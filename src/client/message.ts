/** A pulled message: the wire fields plus ack()/nack() against the queue or subscription it came from. */
import type { Headers, WireMessage } from './types';

/** Settles single messages; acks and nacks made in the same turn share one request. */
export interface MessageSettler {
  ackOne(id: string): Promise<boolean>;
  nackOne(id: string, requeue: boolean): Promise<boolean>;
}

export interface NackOptions {
  /** true (default): deliver it again; false: dead-letter it now. */
  requeue?: boolean;
}

export class Message<T = unknown> {
  readonly id: string;
  readonly payload: T;
  readonly headers: Headers;
  /** ISO 8601 UTC, as the server sent it. */
  readonly publishedAt: string;
  /** How many times it was delivered, this time included. */
  readonly deliveries: number;
  private readonly settler: MessageSettler;

  constructor(wire: WireMessage, settler: MessageSettler) {
    this.id = wire.id;
    this.payload = wire.payload as T;
    this.headers = wire.headers ?? {};
    this.publishedAt = wire.published_at;
    this.deliveries = wire.deliveries;
    this.settler = settler;
  }

  /** Settles it; resolves false when the server no longer knew its lease (expired or settled before). */
  ack(): Promise<boolean> {
    return this.settler.ackOne(this.id);
  }

  /** Gives it back: delivered again (requeue, the default) or dead-lettered now. */
  nack(options: NackOptions = {}): Promise<boolean> {
    return this.settler.nackOne(this.id, options.requeue ?? true);
  }

  /** The wire shape: `{"id","payload","headers","published_at","deliveries"}`. */
  toJSON(): WireMessage {
    return { id: this.id, payload: this.payload, headers: this.headers, published_at: this.publishedAt, deliveries: this.deliveries };
  }
}
