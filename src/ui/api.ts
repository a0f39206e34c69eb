/**
 * The page's client of the broker's public HTTP API, on the page's own origin. The token is
 * held in this object's memory only: never in a URL, a cookie or web storage, so a reload or a
 * closed tab ends the session. Errors are the API's own (`{"error":{"code","message"}}`),
 * shown as they come, so the page refuses exactly what the API refuses.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** `403 forbidden: no configure grant on shop`: how the page shows it. */
  describe(): string {
    return this.status > 0 ? `${this.status} ${this.code}: ${this.message}` : this.message;
  }
}

export interface Grant {
  exchange: string;
  actions: string[];
}

export interface Session {
  username: string;
  admin: boolean;
  grants: Grant[];
  expiresAt: string;
}

export interface Health {
  status: string;
  roles: string[];
  node_id: string;
  version: string;
  uptime_ms: number;
}

export interface PartitionInfo {
  partition: number;
  leader: string | null;
  node_location: string | null;
  replicas: string[];
  leader_epoch: number;
  isr?: string[];
}

export interface NodeInfo {
  id: string;
  http: string;
  grpc: string;
  version?: string;
}

export interface PartitionMapAnswer {
  partitions: PartitionInfo[];
  nodes: NodeInfo[];
  controller: unknown;
}

export interface InboxCounts {
  depth: number;
  in_flight: number;
  dead_letters: number;
}

export interface QueueListing extends InboxCounts {
  name: string;
  partition: number;
  leader: string | null;
}

export interface TopicListing {
  name: string;
  retention_ms: number;
  partition: number;
  leader: string | null;
  subscriptions: Array<InboxCounts & { name: string }>;
}

export interface InboxStats extends InboxCounts {
  exchange: string;
  name: string;
  partition: number;
  leader: string | null;
  options?: Record<string, unknown>;
}

export interface WireMessage {
  id: string;
  payload: unknown;
  headers: Record<string, unknown>;
  published_at: string;
  deliveries: number;
}

export interface DeadLetter extends WireMessage {
  reason: string;
  cursor: number;
}

export interface UserListing {
  id: number;
  username: string;
  admin: boolean;
  created_at: string;
  grants: Grant[];
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export class Api {
  private token: string | undefined;
  session: Session | undefined;
  /** Called when the API says the token is no longer good (expired, revoked, user removed). */
  onSessionEnded: (reason: string) => void = () => {};

  constructor(private readonly base = '') {}

  async login(user: string, pass: string): Promise<Session> {
    const answer = await this.send<{ token: string; expires_at: string }>('POST', '/auth', { user, pass }, null);
    const who = await this.send<{ user: { username: string; admin?: boolean; grants?: Grant[] } }>('POST', '/validate', undefined, answer.token);
    this.token = answer.token;
    this.session = { username: who.user.username, admin: who.user.admin === true, grants: who.user.grants ?? [], expiresAt: answer.expires_at };
    return this.session;
  }

  logout(): void {
    this.token = undefined;
    this.session = undefined;
  }

  get<T>(path: string): Promise<T> {
    return this.send<T>('GET', path);
  }
  put<T>(path: string, body?: unknown): Promise<T> {
    return this.send<T>('PUT', path, body);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.send<T>('POST', path, body);
  }
  delete<T>(path: string, body?: unknown): Promise<T> {
    return this.send<T>('DELETE', path, body);
  }

  /** A text answer (GET /metrics), with the token in case metrics need one. */
  async text(path: string): Promise<string> {
    const response = await this.fetch('GET', path, undefined, this.token ?? null);
    const text = await response.text();
    if (!response.ok) throw toApiError(response.status, text);
    return text;
  }

  /** `token`: the session's by default; `null` sends none (logging in). */
  private async send<T>(method: Method, path: string, body?: unknown, token: string | null = this.token ?? null): Promise<T> {
    const response = await this.fetch(method, path, body, token);
    const text = await response.text();
    if (!response.ok) {
      const error = toApiError(response.status, text);
      if (response.status === 401 && token !== null && token === this.token) {
        this.logout();
        this.onSessionEnded(error.describe());
      }
      throw error;
    }
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(response.status, 'bad_answer', `the broker answered ${method} ${path} with something that is not JSON`);
    }
  }

  private async fetch(method: Method, path: string, body: unknown, token: string | null): Promise<Response> {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await fetch(`${this.base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
        cache: 'no-store',
        redirect: 'error',
      });
    } catch (error) {
      throw new ApiError(0, 'network', `the broker cannot be reached (${(error as Error).message}); it may be restarting`);
    }
  }
}

function toApiError(status: number, text: string): ApiError {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (parsed.error && typeof parsed.error.code === 'string' && typeof parsed.error.message === 'string') {
      return new ApiError(status, parsed.error.code, parsed.error.message);
    }
  } catch {
    // not the API's error shape: fall through
  }
  return new ApiError(status, 'http_error', text.slice(0, 200) || `HTTP ${status}`);
}
