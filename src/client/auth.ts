/**
 * The bearer token of a connection: logs in with POST /auth, renews before `expires_at`,
 * and once more when the server answers 401 to a token it was given (DESIGN §7, §8).
 * Concurrent callers share one login.
 */
import { MomClientError } from './errors';
import type { WireAuthResponse } from './types';

export type LoginFunction = () => Promise<WireAuthResponse>;

/** Renew this long before expiry: a tenth of the token's life, at most 30 s. */
const MAX_RENEW_MARGIN_MS = 30_000;

export class TokenManager {
  private readonly loginFunction: LoginFunction | undefined;
  private token: string | undefined;
  /** When to log in again instead of sending the current token (epoch ms). */
  private renewAt = Number.POSITIVE_INFINITY;
  private pending: Promise<string> | undefined;

  constructor(loginFunction: LoginFunction | undefined, initialToken?: string) {
    this.loginFunction = loginFunction;
    this.token = initialToken;
  }

  /** Whether a 401 can be answered by logging in again (a password is known). */
  get canLogin(): boolean {
    return this.loginFunction !== undefined;
  }

  get current(): string | undefined {
    return this.token;
  }

  /** A token to send now: the current one unless it is about to expire. */
  get(): Promise<string> | string {
    if (this.token !== undefined && (Date.now() < this.renewAt || this.loginFunction === undefined)) return this.token;
    return this.login();
  }

  /**
   * After a 401 for `rejected`: logs in again unless another request already did. Resolves
   * false when no password is known, so the 401 stands.
   */
  async renew(rejected: string | undefined): Promise<boolean> {
    if (this.loginFunction === undefined) return false;
    if (this.token !== undefined && this.token !== rejected && Date.now() < this.renewAt) return true;
    await this.login();
    return true;
  }

  login(): Promise<string> {
    const loginFunction = this.loginFunction;
    if (loginFunction === undefined) {
      return Promise.reject(new MomClientError('unauthorized', 'no valid token and no password to log in with', { status: 401 }));
    }
    this.pending ??= loginFunction()
      .then((answer) => {
        if (typeof answer?.token !== 'string' || answer.token === '') {
          throw new MomClientError('bad_response', 'POST /auth answered without a token');
        }
        this.token = answer.token;
        this.renewAt = renewTime(answer.expires_at, Date.now());
        return answer.token;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }
}

export function renewTime(expiresAt: string | undefined, now: number): number {
  const expires = expiresAt === undefined ? Number.NaN : Date.parse(expiresAt);
  if (Number.isNaN(expires)) return Number.POSITIVE_INFINITY;
  const margin = Math.min(MAX_RENEW_MARGIN_MS, Math.max(0, (expires - now) / 10));
  return expires - margin;
}
