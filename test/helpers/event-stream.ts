/**
 * A raw Server-Sent Events client for tests of `GET …/stream` (DESIGN §8): global fetch,
 * the SDK's pure parser, and events taken one by one with a deadline, so that a test can
 * say exactly how many arrived and when none more does.
 */
import { EventStreamParser, type ServerEvent } from '../../src/client/event-stream-parser';
import type { WireMessage } from './http-api';

export interface OpenedStream {
  status: number;
  headers: Headers;
  /** The body of an answer other than 200 (an error), or '' for a stream. */
  errorBody: string;
  /** Comment lines seen so far (`: keepalive`). */
  comments(): number;
  /** The next event, or undefined when none comes within `timeoutMs` (or the stream ended). */
  next(timeoutMs?: number): Promise<ServerEvent | undefined>;
  /** The next `n` message events, failing if they do not come within `timeoutMs`. */
  messages(n: number, timeoutMs?: number): Promise<WireMessage[]>;
  /** Whether the server ended the stream. */
  ended(): boolean;
  /** Closes it from the client side. */
  close(): void;
}

export async function openStream(url: string, path: string, token: string | undefined, query: Record<string, string | number> = {}): Promise<OpenedStream> {
  const params = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]));
  const abort = new AbortController();
  const response = await fetch(`${url}${path}/stream${params.size > 0 ? `?${params}` : ''}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: abort.signal,
  });
  if (response.status !== 200) {
    return {
      status: response.status,
      headers: response.headers,
      errorBody: await response.text(),
      comments: () => 0,
      next: async () => undefined,
      messages: async () => [],
      ended: () => true,
      close: () => abort.abort(),
    };
  }
  const parser = new EventStreamParser();
  const decoder = new TextDecoder();
  const queued: ServerEvent[] = [];
  let comments = 0;
  let done = false;
  let wake: (() => void) | undefined;
  void (async () => {
    const reader = response.body!.getReader();
    try {
      for (;;) {
        const { value, done: finished } = await reader.read();
        if (finished) break;
        const text = decoder.decode(value, { stream: true });
        comments += text.split('\n').filter((line) => line.startsWith(':')).length;
        queued.push(...parser.feed(text));
        wake?.();
      }
    } catch {
      // aborted by close(), or cut by the server
    } finally {
      done = true;
      wake?.();
    }
  })();
  const next = async (timeoutMs = 5_000): Promise<ServerEvent | undefined> => {
    const deadline = Date.now() + timeoutMs;
    while (queued.length === 0 && !done) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
    return queued.shift();
  };
  return {
    status: 200,
    headers: response.headers,
    errorBody: '',
    comments: () => comments,
    next,
    async messages(n, timeoutMs = 10_000) {
      const out: WireMessage[] = [];
      const deadline = Date.now() + timeoutMs;
      while (out.length < n) {
        const event = await next(Math.max(0, deadline - Date.now()));
        if (!event) throw new Error(`only ${out.length} of ${n} message events arrived within ${timeoutMs} ms`);
        if (event.event === 'message') out.push(JSON.parse(event.data) as WireMessage);
        else throw new Error(`expected message events, got ${event.event}: ${event.data}`);
      }
      return out;
    },
    ended: () => done,
    close: () => abort.abort(),
  };
}
