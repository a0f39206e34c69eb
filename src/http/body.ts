import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { MomError } from '../core/errors';
import { checkJsonText } from '../core/json-text';

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/**
 * Reads the whole body as UTF-8, refusing (413) past `limit` bytes without buffering more, and
 * (400) bytes that are not UTF-8: decoding would silently turn them into U+FFFD.
 */
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
      if (failed) return;
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      if (!isUtf8(bytes)) {
        reject(new MomError('bad_request', 'request body is not valid UTF-8; send JSON encoded as UTF-8'));
        return;
      }
      resolve(bytes.toString('utf8'));
    });
    req.on('error', (error) => {
      if (!failed) reject(new MomError('bad_request', `could not read request body: ${error.message}`, { cause: error }));
    });
  });
}

export interface JsonBodyOptions {
  /**
   * Parse the body as JSON whatever its content type says. Only for POST /auth, where curl's
   * `-d` (form-urlencoded) and fetch's default (text/plain) have always been taken.
   */
  anyContentType?: boolean;
}

/**
 * Reads and parses a JSON body. An empty body is `undefined` (declares take an optional body).
 * A content type that is present and not JSON is 415 `unsupported_media_type` (DESIGN §8),
 * refused before the body is read.
 */
export async function readJsonBody(req: IncomingMessage, limit?: number, options: JsonBodyOptions = {}): Promise<unknown> {
  if (!options.anyContentType) assertJsonContentType(req);
  const text = await readBody(req, limit);
  if (text.trim() === '') return undefined;
  return parseJsonText(text);
}

/** JSON.parse, then the limits of src/core/json-text.ts (nesting, numbers): 400 on either. */
export function parseJsonText(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new MomError('bad_request', `request body is not valid JSON: ${(error as Error).message}`);
  }
  checkJsonText(text);
  return value;
}

/**
 * No content type, `application/json` or a `+json` type, with no charset or UTF-8: anything
 * else is 415. The check is on the header alone, so it holds for an empty body too.
 */
export function assertJsonContentType(req: IncomingMessage): void {
  const header = req.headers['content-type'];
  if (header === undefined || header.trim() === '') return;
  const [type = '', ...params] = header.split(';');
  const mediaType = type.trim().toLowerCase();
  const json = mediaType === 'application/json' || (mediaType.startsWith('application/') && mediaType.endsWith('+json'));
  const charset = params
    .map((param) => param.trim().toLowerCase())
    .find((param) => param.startsWith('charset='))
    ?.slice('charset='.length)
    .replace(/^"|"$/g, '');
  if (!json || (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')) {
    req.resume();
    throw new MomError(
      'unsupported_media_type',
      `content type ${JSON.stringify(header.slice(0, 100))} is not accepted: send the body as JSON in UTF-8 with "Content-Type: application/json" (or no content type)`,
    );
  }
}

function tooLarge(limit: number): MomError {
  return new MomError('payload_too_large', `request body exceeds the limit of ${limit} bytes; split the batch or shrink the payload`);
}
