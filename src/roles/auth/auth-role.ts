import type { JSONWebKeySet } from 'jose';
import { MomError } from '../../core/errors';
import { isValidName } from '../../core/names';
import { readJsonBody } from '../../http/body';
import { clientAddress, hasClusterSecret } from '../../http/client-address';
import { sendJson } from '../../http/response';
import { Router, type RequestContext } from '../../http/router';
import { createTokenVerifier, type TokenVerifier } from '../../http/token-verifier';
import { toUserStateAnswer, USER_STATE_PATH } from '../../http/user-state-feed';
import type { Logger } from '../../runtime/logger';
import { UserDatabase, type UserRecord } from '../../store/user-database';
import type { Grant } from '../../core/permissions';
import type { Metrics } from '../../runtime/metrics';
import { ensureInitialAdmin } from './initial-admin';
import { LoginThrottle, type LoginThrottleOptions } from './login-throttle';
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
  /** Gateways relaying logins prove themselves with it, so their X-Forwarded-For is believed. */
  clusterSecret?: string;
  /**
   * Serve GET /internal/user-state to verifiers in other processes (user-state-feed.ts). Not
   * where the public API shares the port and no cluster secret guards it (`--role all`).
   */
  serveUserState?: boolean;
  /** Tests shorten the waits; the defaults are documented in login-throttle.ts. */
  loginThrottle?: Partial<LoginThrottleOptions>;
  /** The process's registry: logins, refusals by reason, validations. */
  metrics?: Metrics;
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
  const verifier = createTokenVerifier({ jwks: key.jwks }, { userLookup: (username) => users.liveUser(username) });
  const throttle = new LoginThrottle(opts.loginThrottle);
  const counted = countLogins(opts.metrics);

  const router = new Router()
    .post('/auth', counted.login(async ({ req, res }) => {
      const { username, password } = parseLoginBody(await readJsonBody(req, AUTH_BODY_LIMIT, { anyContentType: true }));
      const address = clientAddress(req, hasClusterSecret(req, opts.clusterSecret));
      // Only names that could exist are tracked per user, so junk names cannot bloat the table.
      const tracked = isValidName(username) ? username : undefined;
      throttle.check(address, tracked);
      const login = await users.verifyLogin(username, password);
      if (!login) {
        throttle.fail(address, tracked);
        logger.info('login failed', { user: username.slice(0, 140), address });
        throw new MomError('invalid_credentials', 'wrong user or password');
      }
      throttle.succeed(address, username);
      const { token, expiresAt } = await issuer.issue(login.principal, login.tokenEpoch);
      sendJson(res, 200, { token, expires_at: expiresAt.toISOString() });
    }))
    .post('/validate', counted.validation(async ({ req, res }) => {
      req.resume();
      const principal = await verifier.verify(authorizationHeader(req));
      sendJson(res, 200, {
        user: { id: principal.userId, username: principal.username, admin: principal.admin, grants: principal.grants },
      });
    }))
    .get('/.well-known/jwks.json', ({ res }: RequestContext) => {
      res.setHeader('cache-control', 'public, max-age=300');
      sendJson(res, 200, key.jwks);
    })
    // Users and their grants, for an admin (the web page's Users view); read-only: users are
    // added and granted with the CLI (DESIGN §7). No password hashes, no token epochs.
    .get(USERS_PATH, async ({ req, res }: RequestContext) => {
      req.resume();
      const principal = await verifier.verify(authorizationHeader(req));
      if (!principal.admin) throw new MomError('forbidden', `listing users needs an admin; ${principal.username} is not one`);
      res.setHeader('cache-control', 'no-store');
      sendJson(res, 200, toUsersAnswer(users.listUsers()));
    });
  if (opts.serveUserState) {
    // Names, grants and token epochs of every user: for the cluster's verifiers only.
    router.get(USER_STATE_PATH, ({ req, res }: RequestContext) => {
      req.resume();
      if (opts.clusterSecret && !hasClusterSecret(req, opts.clusterSecret)) {
        throw new MomError('forbidden', `${USER_STATE_PATH} is for gateways and nodes: send the cluster secret`);
      }
      res.setHeader('cache-control', 'no-store');
      sendJson(res, 200, toUserStateAnswer(users.liveUsers()));
    });
  }

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

/** `GET /v1/users` (admin only): served by the auth role, relayed by gateways (auth-relay.ts). */
export const USERS_PATH = '/v1/users';

export interface UsersAnswer {
  users: Array<{ id: number; username: string; admin: boolean; created_at: string; grants: Grant[] }>;
}

export function toUsersAnswer(records: UserRecord[]): UsersAnswer {
  return {
    users: records.map((record) => ({ id: record.id, username: record.username, admin: record.admin, created_at: record.createdAt, grants: record.grants })),
  };
}

type Handler = (ctx: RequestContext) => Promise<void>;

/** Why a login was refused, as a bounded label value. */
function refusalReason(error: unknown): string {
  const code = error instanceof MomError ? error.code : undefined;
  if (code === 'invalid_credentials') return 'invalid_credentials';
  if (code === 'too_many_requests') return 'throttled';
  if (code === 'bad_request' || code === 'unsupported_media_type' || code === 'payload_too_large') return 'bad_request';
  return 'error';
}

/** Wraps the login and validation handlers to count their outcomes (nothing without a registry). */
function countLogins(metrics: Metrics | undefined): { login: (handler: Handler) => Handler; validation: (handler: Handler) => Handler } {
  if (!metrics) return { login: (handler) => handler, validation: (handler) => handler };
  const logins = metrics.counter('mom_auth_logins_total', 'logins that got a token (POST /auth)');
  const refusals = metrics.counter('mom_auth_login_refusals_total', 'logins refused, by reason: invalid_credentials, throttled (too many failures), bad_request, error', ['reason']);
  for (const reason of ['invalid_credentials', 'throttled', 'bad_request']) refusals.inc({ reason }, 0);
  const validations = metrics.counter('mom_auth_validations_total', 'POST /validate answers, by outcome: valid or refused', ['outcome']);
  for (const outcome of ['valid', 'refused']) validations.inc({ outcome }, 0);
  return {
    login: (handler) => async (ctx) => {
      try {
        await handler(ctx);
      } catch (error) {
        refusals.inc({ reason: refusalReason(error) });
        throw error;
      }
      logins.inc();
    },
    validation: (handler) => async (ctx) => {
      try {
        await handler(ctx);
      } catch (error) {
        validations.inc({ outcome: 'refused' });
        throw error;
      }
      validations.inc({ outcome: 'valid' });
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
