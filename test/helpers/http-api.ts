/**
 * A thin HTTP client over global fetch for tests that drive the real broker process: every
 * call answers `{status, body, headers, ms}` instead of throwing on 4xx/5xx, so tests can
 * assert on error statuses and codes. Also: adding users through the real CLI, unique names,
 * and draining an inbox.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { MOMBROKER_BIN, REPO_ROOT, login, withDispatcher, type RunningBroker } from './broker';

/** Parsed JSON bodies are loosely typed on purpose: tests assert on their shape. */
export type Json = any;

export interface ApiResponse {
  status: number;
  body: Json;
  /** The body as received (for non-JSON answers). */
  text: string;
  headers: Headers;
  /** Wall time of the call, from sending to the whole body read. */
  ms: number;
}

export interface CallOptions {
  /** Sent as it is instead of JSON.stringify(body). */
  raw?: string | Uint8Array;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Override the Authorization header (or '' to send none). */
  authorization?: string;
}

/** One wire message as a pull answers it (DESIGN §8). */
export interface WireMessage {
  id: string;
  payload: Json;
  headers: Record<string, unknown>;
  published_at: string;
  deliveries: number;
}

export class Api {
  /** `dispatcher`: for an https:// URL, an undici Agent trusting the test CA (helpers/tls.ts). */
  constructor(
    public url: string,
    public token: string | undefined,
    private readonly dispatcher?: Dispatcher,
  ) {}

  async call(method: string, path: string, body?: unknown, options: CallOptions = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = { ...options.headers };
    const authorization = options.authorization ?? (this.token ? `Bearer ${this.token}` : '');
    if (authorization !== '') headers.authorization = authorization;
    let payload: string | Uint8Array | undefined = options.raw;
    if (payload === undefined && body !== undefined) payload = JSON.stringify(body);
    if (payload !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
    const started = performance.now();
    const response = await fetch(`${this.url}${path}`, { method, headers, body: payload, signal: options.signal, ...withDispatcher(this.dispatcher) });
    const text = await response.text();
    const ms = performance.now() - started;
    let parsed: Json = undefined;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    return { status: response.status, body: parsed, text, headers: response.headers, ms };
  }

  get(path: string, options?: CallOptions): Promise<ApiResponse> {
    return this.call('GET', path, undefined, options);
  }
  put(path: string, body?: unknown, options?: CallOptions): Promise<ApiResponse> {
    return this.call('PUT', path, body, options);
  }
  post(path: string, body?: unknown, options?: CallOptions): Promise<ApiResponse> {
    return this.call('POST', path, body, options);
  }
  delete(path: string, options?: CallOptions): Promise<ApiResponse> {
    return this.call('DELETE', path, undefined, options);
  }

  // ---- Shortcuts that assert success ----

  async declareExchange(exchange: string): Promise<void> {
    expectStatus(await this.put(`/v1/exchanges/${exchange}`), [200, 201], `declare exchange ${exchange}`);
  }

  async declareQueue(exchange: string, queue: string, options?: Record<string, unknown>): Promise<void> {
    expectStatus(await this.put(`/v1/exchanges/${exchange}/queues/${queue}`, options), [200, 201], `declare queue ${exchange}/${queue}`);
  }

  async declareTopic(exchange: string, topic: string, options?: Record<string, unknown>): Promise<void> {
    expectStatus(await this.put(`/v1/exchanges/${exchange}/topics/${topic}`, options), [200, 201], `declare topic ${exchange}/${topic}`);
  }

  async subscribe(exchange: string, topic: string, subscription: string, from?: 'latest' | 'earliest'): Promise<void> {
    const body = from === undefined ? undefined : { from };
    expectStatus(await this.put(`/v1/exchanges/${exchange}/topics/${topic}/subscriptions/${subscription}`, body), [200, 201], `subscribe ${subscription}`);
  }

  /** Publishes to a queue or topic path (`/v1/exchanges/e/queues/q`); returns the ids. */
  async publish(target: string, messages: Array<{ payload: unknown; id?: string; headers?: Record<string, unknown> }>): Promise<string[]> {
    const body = messages.length === 1 ? messages[0] : { messages };
    const response = await this.post(`${target}/messages`, body);
    expectStatus(response, [201], `publish to ${target}`);
    return response.body.ids as string[];
  }

  /** Pulls from an inbox path (a queue or a subscription); asserts 200. */
  async pull(inbox: string, query: { max?: number; wait_ms?: number; lease_ms?: number } = {}): Promise<WireMessage[]> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    const response = await this.get(`${inbox}/messages${params.size > 0 ? `?${params}` : ''}`);
    expectStatus(response, [200], `pull from ${inbox}`);
    return response.body.messages as WireMessage[];
  }

  async ack(inbox: string, ids: string[]): Promise<{ acked: number; unknown: string[] }> {
    const response = await this.post(`${inbox}/ack`, { ids });
    expectStatus(response, [200], `ack on ${inbox}`);
    return response.body;
  }

  async nack(inbox: string, ids: string[], requeue: boolean): Promise<{ nacked: number; unknown: string[] }> {
    const response = await this.post(`${inbox}/nack`, { ids, requeue });
    expectStatus(response, [200], `nack on ${inbox}`);
    return response.body;
  }

  /**
   * Pulls (and acks) until the inbox answers empty, at most `maxRounds` pulls. Returns every
   * message in delivery order.
   */
  async drain(inbox: string, options: { max?: number; maxRounds?: number } = {}): Promise<WireMessage[]> {
    const all: WireMessage[] = [];
    const maxRounds = options.maxRounds ?? 1000;
    for (let round = 0; round < maxRounds; round++) {
      const messages = await this.pull(inbox, { max: options.max ?? 1000, lease_ms: 600_000 });
      if (messages.length === 0) return all;
      all.push(...messages);
      const result = await this.ack(inbox, messages.map((m) => m.id));
      assert.deepEqual(result.unknown, [], 'every message just pulled is ackable');
    }
    assert.fail(`${inbox} still had messages after ${maxRounds} pulls`);
  }
}

export function expectStatus(response: ApiResponse, statuses: number[], what: string): void {
  assert.ok(statuses.includes(response.status), `${what}: expected ${statuses.join(' or ')}, got ${response.status} ${response.text.slice(0, 500)}`);
}

/** Asserts the error shape of DESIGN §8: `{"error":{"code","message"}}` with that status and code. */
export function expectError(response: ApiResponse, status: number, code: string, what: string): void {
  assert.equal(response.status, status, `${what}: expected ${status} ${code}, got ${response.status} ${response.text.slice(0, 500)}`);
  assert.equal(typeof response.body?.error, 'object', `${what}: answer has an "error" object: ${response.text.slice(0, 500)}`);
  assert.equal(response.body.error.code, code, `${what}: error.code`);
  assert.equal(typeof response.body.error.message, 'string', `${what}: error.message is a string`);
  assert.ok(response.body.error.message.length > 0, `${what}: error.message is not empty`);
}

/** A fresh name for an exchange, queue, topic or subscription. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export async function adminApi(broker: RunningBroker): Promise<Api> {
  return new Api(broker.url, await login(broker.url, 'admin', broker.adminPassword));
}

/** Runs `mombroker <args>` to completion (the users CLI); rejects on a non-zero exit. */
export function runCli(args: string[], input = ''): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const env = { ...process.env };
    delete env.MOM_DATA;
    const child = spawn(process.execPath, [MOMBROKER_BIN, ...args], { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolvePromise(stdout);
      else reject(new Error(`mombroker ${args.join(' ')} exited ${code}: ${stderr}`));
    });
    child.stdin.end(input);
  });
}

export interface UserGrant {
  exchange: string;
  allow: Array<'publish' | 'consume' | 'configure'>;
}

/** Adds a user with the real CLI on the broker's data dir (while it runs), grants, logs in. */
export async function addUser(broker: RunningBroker, name: string, password: string, grants: UserGrant[] = []): Promise<Api> {
  await runCli(['users', 'add', name, '--password-stdin', '--data', broker.dataDir], `${password}\n`);
  for (const grant of grants) {
    await runCli(['users', 'grant', name, '--exchange', grant.exchange, '--allow', grant.allow.join(','), '--data', broker.dataDir]);
  }
  return new Api(broker.url, await login(broker.url, name, password));
}
