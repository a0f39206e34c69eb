import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Principal } from '../../core/permissions';
import { TOKEN_ALGORITHM, TOKEN_AUDIENCE, TOKEN_ISSUER } from '../../http/token-verifier';
import type { SigningKey } from './signing-key';

export interface IssuedToken {
  token: string;
  expiresAt: Date;
}

export interface TokenIssuerOptions {
  ttlSeconds: number;
  /** Milliseconds since the epoch; tests pass a fixed clock. */
  now?: () => number;
}

/**
 * Signs the tokens `POST /auth` hands out (DESIGN §7): EdDSA with the auth role's key, named by
 * `kid`, for issuer and audience `mombroker`, carrying the user's id, admin flag and grants so
 * that a gateway or node in another process can authorize without asking anyone.
 */
export class TokenIssuer {
  private readonly now: () => number;

  constructor(
    private readonly key: SigningKey,
    private readonly options: TokenIssuerOptions,
  ) {
    if (!Number.isSafeInteger(options.ttlSeconds) || options.ttlSeconds <= 0) {
      throw new RangeError(`token ttl must be a positive number of seconds, got ${options.ttlSeconds}`);
    }
    this.now = options.now ?? Date.now;
  }

  /** `tokenEpoch`: the user's epoch now (DESIGN §7); a password change makes older tokens void. */
  async issue(principal: Principal, tokenEpoch = 0): Promise<IssuedToken> {
    const iat = Math.floor(this.now() / 1000);
    const exp = iat + this.options.ttlSeconds;
    const token = await new SignJWT({
      uid: principal.userId,
      adm: principal.admin,
      tep: tokenEpoch,
      grants: principal.grants.map((grant) => ({ exchange: grant.exchange, actions: [...grant.actions] })),
    })
      .setProtectedHeader({ alg: TOKEN_ALGORITHM, kid: this.key.kid, typ: 'JWT' })
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setSubject(principal.username)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(this.key.privateKey);
    return { token, expiresAt: new Date(exp * 1000) };
  }
}
