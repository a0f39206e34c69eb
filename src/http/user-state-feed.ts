import { request, type Dispatcher } from 'undici';
import { MomError } from '../core/errors';
import { isAction, type Grant, type Principal } from '../core/permissions';
import type { Logger } from '../runtime/logger';
import { CLUSTER_SECRET_HEADER } from './client-address';

/**
 * The auth role's users as verifiers in other processes see them (DESIGN §7: a password change
 * or a removal ends older tokens within seconds). Gateways and nodes verify tokens locally with
 * the JWKS, so they poll the auth role's `GET /internal/user-state` every `pollMs` (2 s): each
 * user's id, name, admin flag, grants and token epoch. A token whose user is gone, or whose
 * epoch is older than the user's, is refused; grants apply as they are now, not as the token
 * says. This is NATS's way (revocations pushed to servers as per-user "issued before" marks)
 * with a pull instead of a push: no state in the token path, no call to auth per request, and
 * a bound of one poll interval.
 *
 * Until the first answer, verification waits for it (at most `firstWaitMs`) and then answers
 * 503; after that, an auth role that cannot be reached leaves the last state in force (logged),
 * since refusing every token while auth restarts would stop the whole cluster. An auth role
 * without the route (404) or refusing this process (401/403: the cluster secrets differ) leaves
 * the feed inactive: tokens are then trusted for their own claims, and the error is logged.
 */
export const USER_STATE_PATH = '/internal/user-state';
export const USER_STATE_POLL_MS = 2_000;

export interface LiveUserState {
  principal: Principal;
  tokenEpoch: number;
}

/** The wire shape of GET /internal/user-state. */
export interface UserStateAnswer {
  users: Array<{ id: number; username: string; admin: boolean; grants: Grant[]; token_epoch: number }>;
}

export function toUserStateAnswer(users: LiveUserState[]): UserStateAnswer {
  return {
    users: users.map(({ principal, tokenEpoch }) => ({
      id: principal.userId,
      username: principal.username,
      admin: principal.admin,
      grants: principal.grants,
      token_epoch: tokenEpoch,
    })),
  };
}

export interface UserStateFeedOptions {
  /** The auth role's base URL. */
  authUrl: string;
  clusterSecret?: string;
  logger: Logger;
  pollMs?: number;
  firstWaitMs?: number;
  timeoutMs?: number;
  /** Reaches auth through this (one trusting `--tls-ca` for HTTPS); default undici's global one. */
  dispatcher?: Dispatcher;
}

type FeedState = 'loading' | 'active' | 'inactive';

export class UserStateFeed {
  private users = new Map<string, LiveUserState>();
  private state: FeedState = 'loading';
  private timer: NodeJS.Timeout | undefined;
  private first: Promise<void> | undefined;
  private closed = false;
  private failing = false;
  private readonly url: string;
  private readonly pollMs: number;
  private readonly firstWaitMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: UserStateFeedOptions) {
    this.url = `${options.authUrl.replace(/\/+$/, '')}${USER_STATE_PATH}`;
    this.pollMs = options.pollMs ?? USER_STATE_POLL_MS;
    this.firstWaitMs = options.firstWaitMs ?? 5_000;
    this.timeoutMs = options.timeoutMs ?? 5_000;
  }

  /** Starts polling; the first answer is awaited by the first find(). Idempotent. */
  start(): void {
    if (!this.closed) this.first ??= this.poll();
  }

  /**
   * The user named `username` as the auth role last said, `undefined` if there is none, or
   * `'unknown'` when the feed is inactive (the token's own claims decide then).
   */
  async find(username: string): Promise<LiveUserState | undefined | 'unknown'> {
    if (this.state === 'loading') {
      this.start();
      await this.firstAnswer();
    }
    if (this.state === 'inactive') return 'unknown';
    return this.users.get(username);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async firstAnswer(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.firstWaitMs);
    });
    try {
      await Promise.race([this.first ?? Promise.resolve(), timeout]);
    } finally {
      clearTimeout(timer);
    }
    if (this.state === 'loading') {
      throw new MomError('unavailable', `cannot read the users' token state from the auth role at ${this.url}; retry shortly`, { retryable: true });
    }
  }

  private async poll(): Promise<void> {
    try {
      const response = await request(this.url, {
        method: 'GET',
        headers: this.options.clusterSecret ? { [CLUSTER_SECRET_HEADER]: this.options.clusterSecret } : {},
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        ...(this.options.dispatcher ? { dispatcher: this.options.dispatcher } : {}),
      });
      const text = await response.body.text();
      if (response.statusCode === 404 || response.statusCode === 401 || response.statusCode === 403) {
        if (this.state !== 'inactive') {
          this.options.logger.error('the auth role does not serve user state to this process: password changes and removals end tokens here only when they expire', {
            url: this.url,
            status: response.statusCode,
            hint: response.statusCode === 404 ? 'upgrade the auth role' : 'give auth, gateways and nodes the same --cluster-secret',
          });
        }
        this.state = 'inactive';
      } else if (response.statusCode !== 200) {
        throw new Error(`answered ${response.statusCode}: ${text.slice(0, 200)}`);
      } else {
        this.users = parseAnswer(text);
        this.state = 'active';
        if (this.failing) this.options.logger.info('user state from the auth role is current again', { url: this.url });
        this.failing = false;
      }
    } catch (error) {
      if (!this.failing) {
        this.options.logger.warn('cannot poll user state from the auth role; the last state known stays in force', { url: this.url, error });
      }
      this.failing = true;
    } finally {
      if (!this.closed) {
        this.timer = setTimeout(() => void this.poll(), this.pollMs);
        this.timer.unref();
      }
    }
  }
}

function parseAnswer(text: string): Map<string, LiveUserState> {
  const answer = JSON.parse(text) as UserStateAnswer;
  if (!answer || !Array.isArray(answer.users)) throw new Error('user state answer has no "users" list');
  const users = new Map<string, LiveUserState>();
  for (const user of answer.users) {
    if (typeof user.username !== 'string' || !Number.isSafeInteger(user.id) || !Array.isArray(user.grants)) continue;
    const grants = user.grants
      .filter((grant) => grant && typeof grant.exchange === 'string' && Array.isArray(grant.actions))
      .map((grant) => ({ exchange: grant.exchange, actions: grant.actions.filter(isAction) }));
    users.set(user.username, {
      principal: { userId: user.id, username: user.username, admin: user.admin === true, grants },
      tokenEpoch: Number.isSafeInteger(user.token_epoch) ? user.token_epoch : 0,
    });
  }
  return users;
}
