/**
 * Coalesces `message.ack()` (or nack) calls made in the same event-loop turn into one
 * `{"ids":[…]}` request per 1000 ids. Each caller learns whether its own id was settled
 * (false when the server listed it as unknown: already settled or its lease expired).
 */

/** Sends one request for `ids`; resolves the ids the server answered as unknown. */
export type SendIds = (ids: string[]) => Promise<string[]>;

export interface AckBatcherOptions {
  send: SendIds;
  /** Ids per request (default 1000). */
  maxIds?: number;
  schedule?: (callback: () => void) => void;
}

export class AckBatcher {
  private readonly send: SendIds;
  private readonly maxIds: number;
  private readonly schedule: (callback: () => void) => void;
  private ids: string[] = [];
  private resolves: Array<(settled: boolean) => void> = [];
  private rejects: Array<(error: unknown) => void> = [];
  private scheduled = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly onTurnEnd = (): void => {
    this.scheduled = false;
    this.sendPending();
  };

  constructor(options: AckBatcherOptions) {
    this.send = options.send;
    this.maxIds = options.maxIds ?? 1000;
    this.schedule = options.schedule ?? setImmediate;
  }

  add(id: string): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.ids.push(id);
      this.resolves.push(resolve);
      this.rejects.push(reject);
      if (this.ids.length >= this.maxIds) this.sendPending();
      else if (!this.scheduled) {
        this.scheduled = true;
        this.schedule(this.onTurnEnd);
      }
    });
  }

  /** Sends what is pending now; resolves when every request so far has settled. */
  async flush(): Promise<void> {
    this.sendPending();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private sendPending(): void {
    if (this.ids.length === 0) return;
    const ids = this.ids;
    const resolves = this.resolves;
    const rejects = this.rejects;
    this.ids = [];
    this.resolves = [];
    this.rejects = [];
    let sending: Promise<string[]>;
    try {
      sending = this.send(ids);
    } catch (error) {
      sending = Promise.reject(error);
    }
    const settled = sending.then(
      (unknown) => {
        const missed = new Set(unknown);
        for (let i = 0; i < ids.length; i++) resolves[i]!(!missed.has(ids[i]!));
      },
      (error: unknown) => {
        for (const reject of rejects) reject(error);
      },
    );
    this.inFlight.add(settled);
    void settled.finally(() => this.inFlight.delete(settled));
  }
}
