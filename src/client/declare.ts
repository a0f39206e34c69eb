/** PUT of an exchange, queue, topic or subscription (DESIGN §8 "Declare"). */
import type { ClientContext } from './context';
import type { DeclareResult } from './types';

/** 201 created, 200 exists with the same options; 409 `conflict` is thrown as MomClientError. */
export async function declare(context: ClientContext, path: string, options: object | undefined): Promise<DeclareResult> {
  context.assertOpen();
  const hasBody = options !== undefined && Object.keys(options).length > 0;
  const response = await context.request({ method: 'PUT', path, body: hasBody ? JSON.stringify(options) : undefined, idempotent: true });
  return { created: response.status === 201 };
}
