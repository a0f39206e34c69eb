/**
 * Consuming from a queue or a subscription: pull (one long-poll request), consume (an async
 * iterator over repeated pulls), ack and nack (DESIGN §2, §8). Queue and Subscription both
 * delegate here; they differ only in their base path.
 */
import { AckBatcher } from './ack-batcher';
import { streamMessages } from './stream-consumer';
import type { ClientContext, Flushable } from './context';
import { isMomClientError, MomClientError } from './errors';
import { Message, type MessageSettler, type NackOptions } from './message';
import type { AckResult, NackResult, QueueStats, WireDeadLetter, WireDeadLettersResponse, WirePullResponse } from './types';

export interface PullOptions {
  /** Messages per request, 1–1000 (server default 1). */
  max?: number;
  /** Long-poll: how long the server may wait for a message, 0–30000 ms (default 0). */
  waitMs?: number;
  /** How long the pulled messages stay leased to this consumer (server default 30000). */
  leaseMs?: number;
  signal?: AbortSignal;
}

export interface DeadLettersOptions {
  /** At most this many (1–1000, server default 100). */
  max?: number;
  /** Only those after this `cursor` (the last one of the previous page). */
  after?: number;
}

export interface ConsumeOptions extends PullOptions {
  /**
   * `stream` (default): the server pushes messages over one long-lived request as soon as
   * they are committed, at most `prefetch` unsettled; it reconnects by itself. `pull`: long
   * polls of `waitMs`, `max` messages each.
   */
  mode?: 'stream' | 'pull';
  /** Stream: delivered-but-unsettled messages at most (1–1000; default `max`, else 100). */
  prefetch?: number;
  /**
   * Ack each message when the loop asks for the next one, in coalesced background requests;
   * an ack that fails is thrown by the iterator. The message the loop is on when it leaves
   * (break, return or throw: an iterator cannot tell them apart) is given back, not acked, so
   * a failure never loses it: ack it yourself before `break` if you are done with it.
   */
  autoAck?: boolean;
}

/** Defaults of consume(): batches of 100, 5 s long polls. */
const CONSUME_MAX = 100;
const CONSUME_WAIT_MS = 5_000;
/** Ids per ack or nack request (the server takes more; this keeps bodies small). */
const IDS_PER_REQUEST = 1000;

export class MessageSource implements MessageSettler, Flushable {
  private readonly context: ClientContext;
  private readonly basePath: string;
  private readonly acks: AckBatcher;
  private readonly requeues: AckBatcher;
  private readonly drops: AckBatcher;

  constructor(context: ClientContext, basePath: string) {
    this.context = context;
    this.basePath = basePath;
    // Buffered acks are sent by close() too, so these bypass the open check of ack()/nack().
    this.acks = new AckBatcher({ send: async (ids) => (await this.sendAck(ids)).unknown });
    this.requeues = new AckBatcher({ send: async (ids) => (await this.sendNack(ids, true)).unknown });
    this.drops = new AckBatcher({ send: async (ids) => (await this.sendNack(ids, false)).unknown });
  }

  /** One request: up to `max` messages, waiting up to `waitMs` for the first. */
  pull(options: PullOptions = {}): Promise<Message[]> {
    try {
      this.context.assertOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.pullUntil(options, this.stopSignal(options.signal));
  }

  /**
   * Pulls in a loop (long polls of `waitMs`, default 5000; `max` default 100) and yields the
   * messages one by one. Ends on break/return(), when `signal` aborts, or when the
   * connection closes. Messages pulled but not yet yielded when it ends are given back.
   */
  consume(options: ConsumeOptions = {}): AsyncGenerator<Message, void, undefined> {
    this.context.assertOpen();
    if (options.mode === 'pull') return this.pullMessages(options);
    return streamMessages(this.context, this.basePath, this, {
      prefetch: options.prefetch ?? options.max ?? CONSUME_MAX,
      leaseMs: options.leaseMs,
      autoAck: options.autoAck === true,
      signal: this.stopSignal(options.signal),
      reconnectDeadlineMs: this.context.retryDeadlineMs,
    });
  }

  private async *pullMessages(options: ConsumeOptions): AsyncGenerator<Message, void, undefined> {
    const pullOptions: PullOptions = {
      max: options.max ?? CONSUME_MAX,
      waitMs: options.waitMs ?? CONSUME_WAIT_MS,
      leaseMs: options.leaseMs,
    };
    const stop = this.stopSignal(options.signal);
    const autoAck = options.autoAck === true;
    let buffer: Message[] = [];
    let next = 0;
    let unacked: Message | undefined;
    let ackFailure: unknown;
    const autoAckOne = (message: Message): void => {
      this.ackOne(message.id).catch((error: unknown) => {
        ackFailure ??= error;
      });
    };
    try {
      for (;;) {
        if (ackFailure !== undefined) throw ackFailure;
        if (next >= buffer.length) {
          if (stop.aborted) return;
          try {
            this.context.assertOpen();
            buffer = await this.pullUntil(pullOptions, stop);
          } catch (error) {
            if (stop.aborted && isMomClientError(error) && (error.code === 'aborted' || error.code === 'closed')) return;
            throw error;
          }
          next = 0;
          continue;
        }
        const message = buffer[next++]!;
        unacked = message;
        yield message;
        unacked = undefined;
        if (autoAck) autoAckOne(message);
      }
    } finally {
      this.giveBack(unacked !== undefined && autoAck ? [unacked, ...buffer.slice(next)] : buffer.slice(next));
    }
  }

  async ack(ids: readonly string[]): Promise<AckResult> {
    this.context.assertOpen();
    return this.sendAck(ids);
  }

  async nack(ids: readonly string[], options: NackOptions = {}): Promise<NackResult> {
    this.context.assertOpen();
    return this.sendNack(ids, options.requeue ?? true);
  }

  /** `{depth, in_flight, dead_letters, partition, leader, …}`. */
  async stats(): Promise<QueueStats> {
    this.context.assertOpen();
    return (await this.context.request<QueueStats>({ method: 'GET', path: this.basePath, idempotent: true })).body;
  }

  /** Messages moved to dead letters, oldest first; page with `after: last.cursor`. */
  async deadLetters(options: DeadLettersOptions = {}): Promise<WireDeadLetter[]> {
    this.context.assertOpen();
    const response = await this.context.request<WireDeadLettersResponse>({
      method: 'GET',
      path: `${this.basePath}/dead-letters`,
      query: { max: options.max, after: options.after },
      idempotent: true,
    });
    const deadLetters = response.body?.dead_letters;
    if (!Array.isArray(deadLetters)) throw new MomClientError('bad_response', `dead-letters answered ${response.status} without "dead_letters"`, { status: response.status });
    return deadLetters;
  }

  ackOne(id: string): Promise<boolean> {
    try {
      this.context.assertOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.acks.add(id);
  }

  nackOne(id: string, requeue: boolean): Promise<boolean> {
    try {
      this.context.assertOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    return (requeue ? this.requeues : this.drops).add(id);
  }

  async flush(): Promise<void> {
    await Promise.all([this.acks.flush(), this.requeues.flush(), this.drops.flush()]);
  }

  private async sendAck(ids: readonly string[]): Promise<AckResult> {
    const result: AckResult = { acked: 0, unknown: [] };
    for (let start = 0; start < ids.length; start += IDS_PER_REQUEST) {
      const response = await this.context.request<Partial<AckResult>>({
        method: 'POST',
        path: `${this.basePath}/ack`,
        body: JSON.stringify({ ids: ids.slice(start, start + IDS_PER_REQUEST) }),
        idempotent: true,
      });
      result.acked += response.body?.acked ?? 0;
      result.unknown.push(...(response.body?.unknown ?? []));
    }
    return result;
  }

  private async sendNack(ids: readonly string[], requeue: boolean): Promise<NackResult> {
    const result: NackResult = { nacked: 0, unknown: [] };
    for (let start = 0; start < ids.length; start += IDS_PER_REQUEST) {
      const response = await this.context.request<Partial<NackResult>>({
        method: 'POST',
        path: `${this.basePath}/nack`,
        body: JSON.stringify({ ids: ids.slice(start, start + IDS_PER_REQUEST), requeue }),
        idempotent: true,
      });
      result.nacked += response.body?.nacked ?? 0;
      result.unknown.push(...(response.body?.unknown ?? []));
    }
    return result;
  }

  /** Aborts on the caller's signal or on close(); made once per pull() or consume(). */
  private stopSignal(signal: AbortSignal | undefined): AbortSignal {
    return signal === undefined ? this.context.closeSignal : AbortSignal.any([signal, this.context.closeSignal]);
  }

  private async pullUntil(options: PullOptions, signal: AbortSignal): Promise<Message[]> {
    const response = await this.context.request<WirePullResponse>({
      method: 'GET',
      path: `${this.basePath}/messages`,
      query: { max: options.max, wait_ms: options.waitMs, lease_ms: options.leaseMs },
      idempotent: true,
      signal,
      extraTimeoutMs: options.waitMs,
    });
    const wire = response.body?.messages;
    if (!Array.isArray(wire)) throw new MomClientError('bad_response', `pull answered ${response.status} without "messages"`, { status: response.status });
    const messages = new Array<Message>(wire.length);
    for (let i = 0; i < wire.length; i++) messages[i] = new Message(wire[i]!, this);
    return messages;
  }

  /** Best effort: leased messages the loop never saw go back now instead of at lease expiry. */
  private giveBack(messages: Message[]): void {
    if (messages.length === 0 || this.context.closeSignal.aborted) return;
    for (const message of messages) this.requeues.add(message.id).catch(() => {});
  }
}
