import { MomError } from '../../core/errors';

export interface ThrottleRule {
  /** Failures without any wait. */
  free: number;
  /** The wait after the first failure past `free`; it doubles with each further one. */
  firstDelayMs: number;
  maxDelayMs: number;
}

export interface LoginThrottleOptions {
  perAddressUser: ThrottleRule;
  perAddress: ThrottleRule;
  /** A key is forgotten this long after its last failure. */
  forgetAfterMs: number;
  /** Keys kept per table; the oldest go first past it (a spray over many addresses or names). */
  maxTracked: number;
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottleOptions = {
  perAddressUser: { free: 5, firstDelayMs: 1_000, maxDelayMs: 15_000 },
  perAddress: { free: 30, firstDelayMs: 1_000, maxDelayMs: 15_000 },
  forgetAfterMs: 15 * 60_000,
  maxTracked: 10_000,
};

interface Entry {
  failures: number;
  lastFailure: number;
  blockedUntil: number;
}

class FailureTable {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly rule: ThrottleRule,
    private readonly options: LoginThrottleOptions,
  ) {}

  /** Milliseconds until `key` may try again (0: now). */
  wait(key: string, now: number): number {
    const entry = this.live(key, now);
    return entry ? Math.max(0, entry.blockedUntil - now) : 0;
  }

  fail(key: string, now: number): void {
    let entry = this.live(key, now);
    if (!entry) {
      if (this.entries.size >= this.options.maxTracked) this.prune(now);
      entry = { failures: 0, lastFailure: now, blockedUntil: 0 };
      this.entries.set(key, entry);
    } else {
      // Re-inserted: the Map's order stays oldest-failure-first, for prune().
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    entry.failures++;
    entry.lastFailure = now;
    const past = entry.failures - this.rule.free;
    if (past >= 0) {
      const delay = Math.min(this.rule.maxDelayMs, this.rule.firstDelayMs * 2 ** Math.min(past, 30));
      entry.blockedUntil = Math.max(entry.blockedUntil, now + delay);
    }
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  private live(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && now - entry.lastFailure >= this.options.forgetAfterMs && now >= entry.blockedUntil) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private prune(now: number): void {
    for (const [key, entry] of this.entries) {
      if (now - entry.lastFailure < this.options.forgetAfterMs) break; // oldest first: the rest are fresher
      this.entries.delete(key);
    }
    if (this.entries.size >= this.options.maxTracked) this.entries.delete(this.entries.keys().next().value!);
  }
}

/**
 * Slows password guessing without locking anyone out (DESIGN §7). Failed logins are counted per
 * client address and per (address, user name). Past a number of free failures, each further one
 * makes that key wait before its next attempt: 1 s, then doubling, at most `maxDelayMs`
 * (15 s). Attempts during a wait are refused (429, `Retry-After` = the real wait) without
 * checking the password, so a guesser learns nothing from them; the right password is refused
 * too, but never for longer than that wait after the last failure from the same address.
 * Failures from other addresses never hold back the owner of a name.
 *
 * - per (address, user): 5 free failures, forgotten on a successful login;
 * - per address: 30 free failures (a guesser spraying many names from one address).
 * Both forget a key 15 minutes after its last failure. In memory, per auth process, bounded.
 */
export class LoginThrottle {
  private readonly byAddressUser: FailureTable;
  private readonly byAddress: FailureTable;

  constructor(
    options: Partial<LoginThrottleOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    const full = { ...DEFAULT_LOGIN_THROTTLE, ...options };
    this.byAddressUser = new FailureTable(full.perAddressUser, full);
    this.byAddress = new FailureTable(full.perAddress, full);
  }

  /** Throws 429 `too_many_requests` with the real wait when this attempt must wait. */
  check(address: string, username: string | undefined): void {
    const now = this.now();
    const waitMs = Math.max(this.byAddress.wait(address, now), username === undefined ? 0 : this.byAddressUser.wait(pairKey(address, username), now));
    if (waitMs <= 0) return;
    const seconds = Math.ceil(waitMs / 1000);
    // retry_after_ms becomes Retry-After (src/http/response.ts): whole seconds, as the message says.
    throw new MomError('too_many_requests', `too many failed logins from this address${username === undefined ? '' : ` for ${username}`}: try again in ${seconds} s`, {
      details: { retry_after_ms: seconds * 1000 },
    });
  }

  /** A wrong password; `username` only when it could be a user (junk names count per address only). */
  fail(address: string, username: string | undefined): void {
    const now = this.now();
    this.byAddress.fail(address, now);
    if (username !== undefined) this.byAddressUser.fail(pairKey(address, username), now);
  }

  /**
   * The right password: that (address, user) starts afresh. The address keeps its count, or a
   * guesser with one valid account could reset it between guesses at other names.
   */
  succeed(address: string, username: string): void {
    this.byAddressUser.forget(pairKey(address, username));
  }
}

function pairKey(address: string, username: string): string {
  // A NUL cannot be in a user name or an address.
  return `${address}\0${username}`;
}
