import { parseDeadLetterSelection, parsePurgeBody } from '../../core/requests';
import { readJsonBody } from '../../http/body';
import { sendJson } from '../../http/response';
import type { RequestContext } from '../../http/router';
import { inboxAddress, type InboxAddress } from './inbox-handlers';
import type { NodeRole } from './node-role';
import type { RequestGuard } from './request-guard';

/**
 * Purge, redrive and dead-letter deletion of a queue or a subscription (DESIGN §8). Each needs
 * `configure` on the exchange, and a per-user subscription stays its user's (DESIGN §7).
 */
export class RepairHandlers {
  constructor(
    private readonly node: NodeRole,
    private readonly guard: RequestGuard,
    private readonly bodyLimit: number,
  ) {}

  private async authorize(ctx: RequestContext): Promise<InboxAddress> {
    const address = inboxAddress(ctx);
    const principal = await this.guard.authorize(ctx.req, 'configure', address.exchange);
    if (address.subscription !== undefined) await this.guard.authorizeSubscription(principal, address.subscription);
    return address;
  }

  /** `POST …/purge` → `{"purged":n}`: the ready messages go; leased ones stay with their consumers. */
  readonly purge = async (ctx: RequestContext): Promise<void> => {
    const address = await this.authorize(ctx);
    parsePurgeBody(await readJsonBody(ctx.req, this.bodyLimit));
    const purged = await this.node.engineFor(address.exchange, address.routingName).purge(address.key);
    sendJson(ctx.res, 200, { purged });
  };

  /** `POST …/dead-letters/redrive` with optional `{"ids":[…]}` → `{"redriven":n}`. */
  readonly redrive = async (ctx: RequestContext): Promise<void> => {
    const address = await this.authorize(ctx);
    const { ids } = parseDeadLetterSelection(await readJsonBody(ctx.req, this.bodyLimit), 'redrive');
    const redriven = await this.node.engineFor(address.exchange, address.routingName).redriveDeadLetters(address.key, ids);
    sendJson(ctx.res, 200, { redriven });
  };

  /** `DELETE …/dead-letters` (optional `{"ids":[…]}`) → `{"deleted":n}`. */
  readonly deleteDeadLetters = async (ctx: RequestContext): Promise<void> => {
    const address = await this.authorize(ctx);
    const { ids } = parseDeadLetterSelection(await readJsonBody(ctx.req, this.bodyLimit), 'dead-letter deletion');
    const deleted = await this.node.engineFor(address.exchange, address.routingName).deleteDeadLetters(address.key, ids);
    sendJson(ctx.res, 200, { deleted });
  };
}
