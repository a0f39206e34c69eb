import type { IncomingMessage } from 'node:http';
import { MomError } from '../core/errors';

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** Reads the whole body as UTF-8, refusing (413) past `limit` bytes without buffering more. */
export function readBody(req: IncomingMessage, limit: number = DEFAULT_BODY_LIMIT): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (error) => {
      if (!failed) reject(new MomError('bad_request', `could not read request body: ${error.message}`, { cause: error }));
    });
  });
}

/** Reads and parses a JSON body. An empty body is `undefined` (declares take an optional body). */
export async function readJsonBody(req: IncomingMessage, limit?: number): Promise<unknown> {
  const text = await readBody(req, limit);
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new MomError('bad_request', `request body is not valid JSON: ${(error as Error).message}`);
  }
}

function tooLarge(limit: number): MomError {
  return new MomError('payload_too_large', `request body exceeds the limit of ${limit} bytes; split the batch or shrink the payload`);
}
