/**
 * Coalesces concurrent publishes into `{"messages":[…]}` requests.
 *
 * Messages added in the same event-loop turn go out together when the turn ends
 * (setImmediate). A request holds at most `maxMessages` messages and `maxBytes` of body
 * (the server takes 1000 and 1 MiB: DESIGN §8). At most `maxInFlight` requests run at once;
 * while all slots are busy, new messages keep accumulating and leave as soon as a slot
 * frees, so a busy producer gets bigger batches instead of more requests.
 *
 * The batcher only does the bookkeeping: it takes already serialized messages and a
 * `send(batch)` function, and settles each caller with its own id(s), or every caller of a
 * batch with that batch's error.
 */
import { MomClientError } from './errors';

export interface PublishBatch {
  /** `{"messages":[…]}`, ready to send. */
  body: string;
  count: number;
  /** Every message carries a producer id, so resending the request stores nothing twice. */
  idempotent: boolean;
}

/** Sends one batch; resolves the ids the server assigned, in order. */
export type SendBatch = (batch: PublishBatch) => Promise<string[]>;

export interface PublishBatcherOptions {
  send: SendBatch;
  /** Messages per request (default 1000, the server's limit). */
  maxMessages?: number;
  /** Serialized body bytes per request (default 900 KiB, under the server's 1 MiB). */
  maxBytes?: number;
  /** Concurrent batch requests (default 4). */
  maxInFlight?: number;
  /** How the end of the current turn is awaited (default setImmediate); tests may replace it. */
  schedule?: (callback: () => void) => void;
}

const BODY_PREFIX = '{"messages":[';
const BODY_SUFFIX = ']}';
const BODY_OVERHEAD = BODY_PREFIX.length + BODY_SUFFIX.length;

/** Marks a waiter that wants one id rather than an array of them. */
const SINGLE = -1;

/** One request in the making. Waiters are kept in parallel arrays: no object per message. */
class Batch {
  readonly parts: string[] = [];
  bytes = BODY_OVERHEAD;
  idempotent = true;
  readonly resolves: Array<(value: never) => void> = [];
  readonly rejects: Array<(error: unknown) => void> = [];
  /** Index of each waiter's first message, and its message count (SINGLE for one id). */
  readonly starts: number[] = [];
  readonly counts: number[] = [];

  get size(): number {
    return this.parts.length;
  }

  body(): string {
    return BODY_PREFIX + this.parts.join(',') + BODY_SUFFIX;
  }

  resolve(ids: string[]): void {
    for (let i = 0; i < this.resolves.length; i++) {
      const start = this.starts[i]!;
      const count = this.counts[i]!;
      const resolve = this.resolves[i] as (value: string | string[]) => void;
      resolve(count === SINGLE ? ids[start]! : ids.slice(start, start + count));
    }
  }

  reject(error: unknown): void {
    for (const reject of this.rejects) reject(error);
  }
}

export class PublishBatcher {
  private readonly send: SendBatch;
  private readonly maxMessages: number;
  private readonly maxBytes: number;
  private readonly maxInFlight: number;
  private readonly schedule: (callback: () => void) => void;

  private current = new Batch();
  /** Sealed batches waiting for a free request slot, oldest first. */
  private readonly ready: Batch[] = [];
  private inFlight = 0;
  private scheduled = false;
  private idleWaiters: Array<() => void> = [];
  private readonly onTurnEnd = (): void => {
    this.scheduled = false;
    this.pump();
  };

  constructor(options: PublishBatcherOptions) {
    this.send = options.send;
    this.maxMessages = options.maxMessages ?? 1000;
    this.maxBytes = options.maxBytes ?? 900 * 1024;
    this.maxInFlight = options.maxInFlight ?? 4;
    this.schedule = options.schedule ?? setImmediate;
    if (!(this.maxMessages >= 1 && this.maxBytes > BODY_OVERHEAD && this.maxInFlight >= 1)) {
      throw new MomClientError('invalid_argument', 'publish batcher: maxMessages, maxBytes and maxInFlight must be positive');
    }
  }

  /** Queues one serialized message; resolves its id. */
  add(json: string, hasId: boolean): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const bytes = Buffer.byteLength(json);
      const batch = this.batchFor(1, bytes + 1);
      batch.starts.push(batch.size);
      batch.counts.push(SINGLE);
      batch.resolves.push(resolve as (value: never) => void);
      batch.rejects.push(reject);
      this.append(batch, json, bytes, hasId);
      this.afterAdd(batch);
    });
  }

  /**
   * Queues messages that must travel in one request (callers split bigger sets first:
   * at most maxMessages, and maxBytes unless it is a single message); resolves their ids.
   */
  addGroup(jsons: string[], hasIds: boolean[]): Promise<string[]> {
    return new Promise<string[]>((resolve, reject) => {
      let bytes = 0;
      const sizes = jsons.map((json) => Buffer.byteLength(json));
      for (const size of sizes) bytes += size + 1;
      const batch = this.batchFor(jsons.length, bytes);
      batch.starts.push(batch.size);
      batch.counts.push(jsons.length);
      batch.resolves.push(resolve as (value: never) => void);
      batch.rejects.push(reject);
      for (let i = 0; i < jsons.length; i++) this.append(batch, jsons[i]!, sizes[i]!, hasIds[i]!);
      this.afterAdd(batch);
    });
  }

  /** Sends everything queued now, without waiting for the turn to end; resolves when all requests settled. */
  flush(): Promise<void> {
    this.pump();
    if (this.isIdle()) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Messages queued or in requests not yet answered (for tests and diagnostics). */
  get pendingRequests(): number {
    return this.inFlight + this.ready.length + (this.current.size > 0 ? 1 : 0);
  }

  /** The batch that can take `count` more messages of `bytes` more bytes, sealing the current one if needed. */
  private batchFor(count: number, bytes: number): Batch {
    const batch = this.current;
    if (batch.size > 0 && (batch.size + count > this.maxMessages || batch.bytes + bytes > this.maxBytes)) {
      this.seal();
      this.pump();
    }
    return this.current;
  }

  private append(batch: Batch, json: string, bytes: number, hasId: boolean): void {
    // One comma per message after the first; counting one per message keeps the bound safe.
    batch.bytes += bytes + 1;
    batch.parts.push(json);
    if (!hasId) batch.idempotent = false;
  }

  private afterAdd(batch: Batch): void {
    if (batch.size >= this.maxMessages || batch.bytes >= this.maxBytes) {
      this.seal();
      this.pump();
    }
    if (!this.scheduled && this.current.size > 0) {
      this.scheduled = true;
      this.schedule(this.onTurnEnd);
    }
  }

  private seal(): void {
    if (this.current.size === 0) return;
    this.ready.push(this.current);
    this.current = new Batch();
  }

  /** Fills free request slots: sealed batches first, then whatever is accumulating. */
  private pump(): void {
    while (this.inFlight < this.maxInFlight) {
      let batch = this.ready.shift();
      if (batch === undefined) {
        if (this.current.size === 0) break;
        batch = this.current;
        this.current = new Batch();
      }
      this.dispatch(batch);
    }
    if (this.isIdle()) this.notifyIdle();
  }

  private dispatch(batch: Batch): void {
    this.inFlight++;
    let sending: Promise<string[]>;
    try {
      sending = this.send({ body: batch.body(), count: batch.size, idempotent: batch.idempotent });
    } catch (error) {
      sending = Promise.reject(error);
    }
    sending.then(
      (ids) => {
        if (!Array.isArray(ids) || ids.length !== batch.size) {
          batch.reject(new MomClientError('bad_response', `publish answered ${Array.isArray(ids) ? ids.length : 'no'} ids for ${batch.size} messages`));
        } else {
          batch.resolve(ids);
        }
        this.settled();
      },
      (error: unknown) => {
        batch.reject(error);
        this.settled();
      },
    );
  }

  private settled(): void {
    this.inFlight--;
    this.pump();
  }

  private isIdle(): boolean {
    return this.inFlight === 0 && this.ready.length === 0 && this.current.size === 0;
  }

  private notifyIdle(): void {
    if (this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
