import type { JSONWebKeySet } from 'jose';
import { MomError } from '../../core/errors';
import { isValidName } from '../../core/names';
import { readJsonBody } from '../../http/body';
import { sendJson } from '../../http/response';
import { Router, type RequestContext } from '../../http/router';
import { createTokenVerifier, type TokenVerifier } from '../../http/token-verifier';
import type { Logger } from '../../runtime/logger';
import { UserDatabase } from '../../store/user-database';
import { ensureInitialAdmin } from './initial-admin';
import { loadOrCreateSigningKey } from './signing-key';
import { TokenIssuer } from './token-issuer';

/**
 * The auth role (DESIGN §1, §7, §8): `POST /auth` trades a user and password for a token,
 * `POST /validate` says whose a token is, `GET /.well-known/jwks.json` publishes the public key
 * everyone else verifies tokens with.
 */
export interface AuthRoleOptions {
  dataDir: string;
  tokenTtlSeconds: number;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
}

export interface AuthRole {
  router: Router;
  jwks: JSONWebKeySet;
  users: UserDatabase;
  /** Verifies with the local key and the live user database, for roles in this process. */
  verifier: TokenVerifier;
  close(): Promise<void>;
}

/** A login body is small; anything bigger is not a login. */
const AUTH_BODY_LIMIT = 16 * 1024;

export async function startAuthRole(opts: AuthRoleOptions): Promise<AuthRole> {
  const logger = opts.logger.child({ role: 'auth' });
  const key = await loadOrCreateSigningKey(opts.dataDir);
  const users = new UserDatabase(opts.dataDir);
  try {
    await ensureInitialAdmin({ users, dataDir: opts.dataDir, logger, env: opts.env });
  } catch (error) {
    users.close();
    throw error;
  }
  const issuer = new TokenIssuer(key, { ttlSeconds: opts.tokenTtlSeconds });
  const verifier = createTokenVerifier({ jwks: key.jwks }, { principalLookup: (username) => users.principal(username) });
  const throttle = new LoginThrottle();

  const router = new Router()
    .post('/auth', async ({ req, res }) => {
      const { username, password } = parseLoginBody(await readJsonBody(req, AUTH_BODY_LIMIT, { anyContentType: true }));
      // Only names that could exist are tracked, so junk names cannot bloat the throttle.
      const tracked = isValidName(username);
      if (tracked) throttle.check(username);
      const principal = await users.verifyPassword(username, password);
      if (!principal) {
        if (tracked) throttle.fail(username);
        logger.info('login failed', { user: username.slice(0, 140) });
        throw new MomError('invalid_credentials', 'wrong user or password');
      }
      throttle.succeed(username);
      const { token, expiresAt } = await issuer.issue(principal);
      sendJson(res, 200, { token, expires_at: expiresAt.toISOString() });
    })
    .post('/validate', async ({ req, res }) => {
      req.resume();
      const principal = await verifier.verify(authorizationHeader(req));
      sendJson(res, 200, {
        user: { id: principal.userId, username: principal.username, admin: principal.admin, grants: principal.grants },
      });
    })
    .get('/.well-known/jwks.json', ({ res }: RequestContext) => {
      res.setHeader('cache-control', 'public, max-age=300');
      sendJson(res, 200, key.jwks);
    });

  logger.info('auth role started', { users: users.path, signingKey: key.path, kid: key.kid });
  let closed = false;
  return {
    router,
    jwks: key.jwks,
    users,
    verifier,
    async close() {
      if (closed) return;
      closed = true;
      users.close();
    },
  };
}

/** `{"user","pass"}` (DESIGN §8) or MOM-py's `{"username","password"}`. */
function parseLoginBody(body: unknown): { username: string; password: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new MomError('bad_request', 'send a JSON object {"user": "...", "pass": "..."}');
  }
  const record = body as Record<string, unknown>;
  const username = record.user ?? record.username;
  const password = record.pass ?? record.password;
  if (typeof username !== 'string' || username === '' || typeof password !== 'string') {
    throw new MomError('bad_request', 'send a JSON object {"user": "...", "pass": "..."} with string values');
  }
  return { username, password };
}

function authorizationHeader(req: RequestContext['req']): string | undefined {
  return req.headers.authorization;
}

/**
 * Slows password guessing per user name: after `maxFailures` wrong passwords within
 * `windowMs`, logins for that name answer 429 until the window ends. In memory, per process,
 * bounded; names that do not exist are counted the same way, so it reveals nothing.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly maxFailures = 10,
    private readonly windowMs = 60_000,
    private readonly maxTracked = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  check(username: string): void {
    const entry = this.live(username);
    if (entry && entry.count >= this.maxFailures) {
      const seconds = Math.ceil((entry.since + this.windowMs - this.now()) / 1000);
      throw new MomError('too_many_requests', `too many failed logins for ${username}: try again in ${seconds} s`);
    }
  }

  fail(username: string): void {
    const entry = this.live(username);
    if (entry) {
      entry.count++;
      return;
    }
    if (this.failures.size >= this.maxTracked) this.prune();
    this.failures.set(username, { count: 1, since: this.now() });
  }

  succeed(username: string): void {
    this.failures.delete(username);
  }

  private live(username: string): { count: number; since: number } | undefined {
    const entry = this.failures.get(username);
    if (entry && this.now() - entry.since >= this.windowMs) {
      this.failures.delete(username);
      return undefined;
    }
    return entry;
  }

  private prune(): void {
    const now = this.now();
    for (const [name, entry] of this.failures) {
      if (now - entry.since >= this.windowMs) this.failures.delete(name);
    }
    // Still full of fresh entries (a spray over many names): drop the oldest.
    if (this.failures.size >= this.maxTracked) this.failures.delete(this.failures.keys().next().value!);
  }
}
