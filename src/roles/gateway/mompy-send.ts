import { assertJsonContentType, parseJsonText, readBody } from '../../http/body';
import type { RequestContext } from '../../http/router';
import { parseMomPyRequest } from '../../core/mompy-request';
import type { Forwarder } from './forwarder';

/**
 * The gateway's `POST /send` (MOM-py's API Gateway + Lambda): finds the partition of the
 * routing key and forwards the request, token included, to its leader's `POST /`, through the
 * same Forwarder as /v1, so a MOM-py client rides out a failover the same way.
 */
export class MomPySend {
  constructor(
    private readonly forwarder: Forwarder,
    private readonly bodyLimit: number,
  ) {}

  readonly handle = async (ctx: RequestContext): Promise<void> => {
    // The node checks the same again; refusing here spares it the round trip.
    assertJsonContentType(ctx.req);
    const text = await readBody(ctx.req, this.bodyLimit);
    const request = parseMomPyRequest(parseJsonText(text));
    const target = { kind: 'partition' as const, exchange: request.exchange, name: request.routingKey, nameKind: request.type === 'q' ? ('queue' as const) : ('topic' as const) };
    await this.forwarder.forward(ctx, target, { body: text, path: '/' });
  };
}
