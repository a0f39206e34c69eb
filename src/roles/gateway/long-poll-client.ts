import type { ServerResponse } from 'node:http';
import { Pause } from '../../runtime/pause';
import type { UpstreamAnswer } from './upstream-answer';

/** A long poll's client, watched so that its going away ends the forward and the upstream request. */
export class LongPollClient {
  gone = false;
  answer: UpstreamAnswer | null = null;
  private readonly pause = new Pause();
  private readonly onClose = (): void => {
    if (this.res.writableFinished) return;
    this.gone = true;
    this.answer?.cancel();
    this.pause.wake();
  };

  constructor(private readonly res: ServerResponse) {
    res.once('close', this.onClose);
  }

  release(): void {
    this.res.off('close', this.onClose);
  }

  /** A pause between attempts that ends early when the client goes away. */
  sleep(ms: number): Promise<void> {
    return this.gone ? Promise.resolve() : this.pause.sleep(ms);
  }
}
