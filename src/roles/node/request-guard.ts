import type { IncomingMessage } from 'node:http';
import { MomError } from '../../core/errors';
import { assertValidName } from '../../core/names';
import { isAllowed, type Action, type Principal } from '../../core/permissions';
import type { TokenVerifier } from '../../http/token-verifier';

/**
 * Authentication and authorization for every /v1 request, at the node itself (DESIGN §6:
 * skipping the gateway skips nothing).
 */
export class RequestGuard {
  constructor(private readonly verifier: TokenVerifier) {}

  authenticate(req: IncomingMessage): Promise<Principal> {
    return this.verifier.verify(req.headers.authorization);
  }

  /** Verifies the token, the exchange name, and that the user may do `action` on it. */
  async authorize(req: IncomingMessage, action: Action | Action[], exchange: string): Promise<Principal> {
    const principal = await this.authenticate(req);
    assertValidName('exchange', exchange);
    const actions = Array.isArray(action) ? action : [action];
    if (!actions.some((a) => isAllowed(principal, a, exchange))) {
      throw new MomError(
        'forbidden',
        `user ${principal.username} may not ${actions.join(' or ')} on exchange ${exchange}; an admin can grant it with ` +
          `\`mombroker users grant ${principal.username} --exchange ${exchange} --allow ${actions[0]}\``,
      );
    }
    return principal;
  }

  /**
   * DESIGN §7: MOM-py's per-user subscription stays its user's. A subscription named after an
   * existing user is that user's alone (and an admin's): another user may not create, read,
   * settle or delete it. Other names are shared by whoever has the grant.
   */
  async authorizeSubscription(principal: Principal, subscription: string): Promise<void> {
    if (principal.admin || subscription === principal.username) return;
    if ((await this.verifier.userExists(subscription)) === true) {
      throw new MomError(
        'forbidden',
        `subscription ${subscription} is the per-user subscription of user ${subscription}: only that user (or an admin) may use it; pick another subscription name`,
      );
    }
  }
}
