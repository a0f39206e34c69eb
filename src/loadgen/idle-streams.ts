/**
 * What open, idle streams cost a broker (issue 8): the broker's CPU over a quiet interval
 * without streams, then with N streams open on one queue nobody publishes to (each a real
 * `GET …/stream` on its own socket, its keepalives read and dropped), and the difference.
 */
import { Agent, request } from 'undici';
import type { Connection } from '../client';
import { CpuMeter } from './cpu-meter';
import { declareFreshQueue, deleteQueueQuietly, sleep, type Target } from './workload';

export interface IdleStreamsOptions {
  target: Target;
  /** Declares and deletes the queue; its exchange must exist. */
  admin: Connection;
  exchange: string;
  token: string;
  streams: number;
  /** Each of the two measured intervals. */
  seconds: number;
  brokerPids: () => number[];
}

export interface IdleStreamsResult {
  streams: number;
  /** Streams that answered 200 (the rest failed to open, e.g. past a per-user bound). */
  opened: number;
  seconds: number;
  /** Broker cores used with no stream open, then with the streams open; undefined without /proc. */
  baselineCores: number | undefined;
  withStreamsCores: number | undefined;
  /** (with - baseline) / streams, in millionths of a core per stream. */
  microCoresPerStream: number | undefined;
}

const OPEN_BATCH = 100;

export async function runIdleStreams(options: IdleStreamsOptions): Promise<IdleStreamsResult> {
  const meter = new CpuMeter(options.brokerPids);
  meter.begin();
  await sleep(options.seconds * 1000);
  const baseline = meter.end()?.broker;

  const queue = await declareFreshQueue(options.admin, options.exchange, 'idle');
  const agent = new Agent({ connections: null, ...(options.target.ca ? { connect: { ca: options.target.ca } } : {}) });
  const aborts: AbortController[] = [];
  let opened = 0;
  try {
    const url = `${options.target.url}/v1/exchanges/${encodeURIComponent(options.exchange)}/queues/${encodeURIComponent(queue)}/stream?prefetch=1`;
    for (let i = 0; i < options.streams; i += OPEN_BATCH) {
      const batch = Array.from({ length: Math.min(OPEN_BATCH, options.streams - i) }, async () => {
        const abort = new AbortController();
        aborts.push(abort);
        try {
          const response = await request(url, { dispatcher: agent, headers: { authorization: `Bearer ${options.token}` }, signal: abort.signal, bodyTimeout: 0 });
          if (response.statusCode !== 200) {
            await response.body.text().catch(() => '');
            return;
          }
          opened++;
          response.body.on('data', () => {});
          response.body.on('error', () => {});
        } catch {
          // refused or aborted: not counted as opened
        }
      });
      await Promise.all(batch);
    }
    meter.begin();
    await sleep(options.seconds * 1000);
    const withStreams = meter.end()?.broker;
    const perStream = baseline !== undefined && withStreams !== undefined && opened > 0 ? Math.round(((withStreams - baseline) / opened) * 1e6) : undefined;
    return { streams: options.streams, opened, seconds: options.seconds, baselineCores: baseline, withStreamsCores: withStreams, microCoresPerStream: perStream };
  } finally {
    for (const abort of aborts) abort.abort();
    await agent.destroy().catch(() => {});
    await deleteQueueQuietly(options.admin, options.exchange, queue);
  }
}
