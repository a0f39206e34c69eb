import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  type JWTPayload,
  type FlattenedJWSInput,
  type KeyLike,
} from 'jose';
import { Agent as HttpsAgent } from 'node:https';
import { MomError } from '../core/errors';
import { isAction, type Grant, type Principal } from '../core/permissions';
import type { LiveUserState, UserStateFeed } from './user-state-feed';

/**
 * Verifies the bearer tokens the auth role signs (DESIGN §7): EdDSA only, issuer and audience
 * `mombroker`, bounded clock skew. Gateways and nodes use it with the auth role's JWKS, fetched
 * once and cached; when auth runs in the same process, the live user database decides who
 * still exists and what they may do.
 */
export const TOKEN_ISSUER = 'mombroker';
export const TOKEN_AUDIENCE = 'mombroker';
export const TOKEN_ALGORITHM = 'EdDSA';

/** The claims the auth role puts in a token besides the registered ones. */
export interface MomTokenClaims extends JWTPayload {
  sub: string;
  uid: number;
  adm: boolean;
  grants: Grant[];
  /** The user's token epoch when the token was issued (absent in older tokens: 0). */
  tep?: number;
}

export interface TokenVerifier {
  /** The principal for an `Authorization: Bearer <token>` header; a MomError otherwise. */
  verify(authorization: string | undefined): Promise<Principal>;
  /**
   * Whether a user of that name exists, as far as this verifier knows (`undefined`: it does
   * not know). Per-user subscriptions (DESIGN §7) are reserved for the user they are named after.
   */
  userExists(username: string): Promise<boolean | undefined>;
}

export type TokenKeySource = { jwks: JSONWebKeySet } | { jwksUrl: string };

export interface TokenVerifierOptions {
  /** The live user lookup, when the user database is in this process (no token epochs). */
  principalLookup?: (username: string) => Principal | undefined;
  /** The live user lookup with token epochs, when the user database is in this process. */
  userLookup?: (username: string) => LiveUserState | undefined;
  /** The auth role's users, polled, for verifiers in other processes (see user-state-feed.ts). */
  userState?: UserStateFeed;
  clockToleranceSec?: number;
  /** For remote JWKS: minimum time between refetches when an unknown `kid` shows up. */
  jwksCooldownMs?: number;
  jwksTimeoutMs?: number;
  /** For remote JWKS over HTTPS: the CA to trust instead of the system's (`--tls-ca`). */
  jwksCa?: Buffer;
}

const DEFAULT_CLOCK_TOLERANCE_SEC = 30;
/** How long a verified token is trusted without checking its signature again. */
const CACHE_TTL_MS = 30_000;
const CACHE_MAX_ENTRIES = 10_000;
const RELOGIN = 'log in again with POST /auth';

interface CachedToken {
  claims: MomTokenClaims;
  until: number;
}

type KeyResolver = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<KeyLike | Uint8Array>;

export function createTokenVerifier(source: TokenKeySource, options: TokenVerifierOptions = {}): TokenVerifier {
  const getKey = keyResolver(source, options);
  const clockTolerance = options.clockToleranceSec ?? DEFAULT_CLOCK_TOLERANCE_SEC;
  const principalLookup = options.principalLookup;
  options.userState?.start();
  /** The user as the source of truth says now; 'claims' when there is none (trust the token). */
  const findUser = async (username: string): Promise<LiveUserState | undefined | 'claims'> => {
    if (options.userLookup) return options.userLookup(username);
    if (principalLookup) {
      const principal = principalLookup(username);
      return principal ? { principal, tokenEpoch: 0 } : undefined;
    }
    if (options.userState) {
      const found = await options.userState.find(username);
      return found === 'unknown' ? 'claims' : found;
    }
    return 'claims';
  };
  // Every request verifies; a small insertion-ordered Map spares repeated signature checks.
  const cache = new Map<string, CachedToken>();

  async function verifyToken(token: string): Promise<MomTokenClaims> {
    const now = Date.now();
    const hit = cache.get(token);
    if (hit) {
      if (now < hit.until) return hit.claims;
      cache.delete(token);
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, {
        algorithms: [TOKEN_ALGORITHM],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        clockTolerance,
        requiredClaims: ['exp', 'iat', 'sub'],
      }));
    } catch (error) {
      throw toAuthError(error);
    }
    const claims = parseClaims(payload);
    // jose checks iat only with maxTokenAge: a token from the future is a forged or broken clock.
    if (typeof claims.iat === 'number' && claims.iat > Math.floor(now / 1000) + clockTolerance) {
      throw unauthorized(`token is issued in the future (iat ${claims.iat}, beyond the ${clockTolerance} s clock tolerance): ${RELOGIN}`, 'token_invalid');
    }
    const until = Math.min(claims.exp! * 1000, now + CACHE_TTL_MS);
    if (until > now) {
      if (cache.size >= CACHE_MAX_ENTRIES) cache.delete(cache.keys().next().value!);
      cache.set(token, { claims, until });
    }
    return claims;
  }

  return {
    async verify(authorization) {
      const claims = await verifyToken(bearerToken(authorization));
      const user = await findUser(claims.sub);
      if (user === 'claims') return { userId: claims.uid, username: claims.sub, admin: claims.adm, grants: claims.grants };
      // A removed user, or a new user that took a removed one's name, holds no valid token.
      if (!user || user.principal.userId !== claims.uid) {
        throw unauthorized(`user ${claims.sub} no longer exists: ${RELOGIN} as an existing user`, 'user_removed');
      }
      // DESIGN §7: a password change ends the tokens issued before it.
      if ((claims.tep ?? 0) < user.tokenEpoch) {
        throw unauthorized(`token was issued before the password of ${claims.sub} changed: ${RELOGIN}`, 'token_revoked');
      }
      return user.principal;
    },
    async userExists(username) {
      const user = await findUser(username);
      return user === 'claims' ? undefined : user !== undefined;
    },
  };
}

function keyResolver(source: TokenKeySource, options: TokenVerifierOptions): KeyResolver {
  if ('jwks' in source) {
    const local = createLocalJWKSet(source.jwks);
    return (header, token) => local(header, token);
  }
  let url: URL | undefined;
  try {
    url = new URL(source.jwksUrl);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new MomError('config_invalid', `jwks url: expected an http(s) URL, got ${JSON.stringify(source.jwksUrl)}`);
  }
  const href = url.href;
  const remote = createRemoteJWKSet(url, {
    cooldownDuration: options.jwksCooldownMs ?? 30_000,
    cacheMaxAge: 10 * 60_000,
    timeoutDuration: options.jwksTimeoutMs ?? 5_000,
    ...(options.jwksCa && url.protocol === 'https:' ? { agent: new HttpsAgent({ ca: options.jwksCa, keepAlive: true }) } : {}),
  });
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
      // The auth role is down or answered nonsense: the token may be fine, so not a 401.
      throw new MomError(
        'unavailable',
        `cannot fetch token signing keys from ${href}: ${(error as Error).message}; retry shortly`,
        { cause: error, retryable: true },
      );
    }
  };
}

function bearerToken(authorization: string | undefined): string {
  if (authorization === undefined || authorization === '') {
    throw unauthorized(`missing Authorization header: get a token with POST /auth and send "Authorization: Bearer <token>"`, 'token_missing');
  }
  const match = /^Bearer[ \t]+([A-Za-z0-9_.~+/=-]+)[ \t]*$/i.exec(authorization);
  if (!match) throw unauthorized('Authorization header must be "Bearer <token>" with a token from POST /auth', 'token_malformed');
  return match[1]!;
}

function parseClaims(payload: JWTPayload): MomTokenClaims {
  const { sub, uid, adm, grants, tep } = payload as Record<string, unknown>;
  const grantsValid =
    Array.isArray(grants) &&
    grants.every(
      (grant: unknown) =>
        typeof grant === 'object' &&
        grant !== null &&
        typeof (grant as Grant).exchange === 'string' &&
        Array.isArray((grant as Grant).actions) &&
        (grant as Grant).actions.every((action: unknown) => typeof action === 'string' && isAction(action)),
    );
  if (typeof sub !== 'string' || !Number.isSafeInteger(uid) || typeof adm !== 'boolean' || !grantsValid || (tep !== undefined && !Number.isSafeInteger(tep))) {
    throw unauthorized(`token is not a mombroker token (claims sub, uid, adm, grants): ${RELOGIN}`, 'token_invalid');
  }
  return payload as MomTokenClaims;
}

function toAuthError(error: unknown): MomError {
  if (error instanceof MomError) return error;
  if (error instanceof errors.JWTExpired) return unauthorized(`token expired: ${RELOGIN}`, 'token_expired');
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return unauthorized(`token algorithm is not accepted (only ${TOKEN_ALGORITHM}): ${RELOGIN}`, 'token_invalid');
  }
  if (error instanceof errors.JWKSNoMatchingKey) {
    return unauthorized(`token was signed by an unknown key (signing key changed?): ${RELOGIN}`, 'token_invalid');
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return unauthorized(`token signature does not verify: ${RELOGIN}`, 'token_invalid');
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    return unauthorized(`token claim ${error.claim} is not valid (${error.reason}): ${RELOGIN}`, 'token_invalid');
  }
  if (error instanceof errors.JOSEError) return unauthorized(`token is malformed: ${RELOGIN}`, 'token_invalid');
  return new MomError('internal', `token verification failed: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

function unauthorized(message: string, reason: string): MomError {
  return new MomError('unauthorized', message, { details: { reason } });
}
