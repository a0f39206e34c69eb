import { createHash } from 'node:crypto';
import { extname } from 'node:path';
import { MomError } from '../core/errors';
import { Router, type RequestContext } from './router';

/**
 * Static files served from memory (the management page, DESIGN §8 `GET /ui`): each answer
 * carries its content type, an ETag (a conditional GET is answered 304), a caching policy and
 * the page's security headers. Files are read once, when the router is built.
 *
 * Caching: the index is `no-cache` (revalidated every time, so a new build is seen at once);
 * every other file has a content hash in its name (the build puts it there), so it is
 * `immutable` for a year.
 */
export interface StaticFile {
  /** The file's name under the prefix (`app-3F2A1B9C.js`); no slashes. */
  name: string;
  body: Buffer;
}

/**
 * The page's Content-Security-Policy: scripts, styles and everything else from this origin only,
 * no inline script or style, no plugins, no framing, no native form submission (the page
 * submits its forms from script: a login form that somehow submitted natively must not put a
 * password in a URL).
 */
export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': PAGE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

export function contentTypeOf(name: string): string {
  return CONTENT_TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
}

interface Prepared {
  body: Buffer;
  headers: Record<string, string>;
  etag: string;
}

export interface StaticRoutesOptions {
  /** Where the files are served: `/ui` serves the index at `/ui` (and `/ui/`), files at `/ui/NAME`. */
  prefix: string;
  /** The index's name among `files` (`index.html`). */
  index: string;
  files: readonly StaticFile[];
}

/** GET `prefix` → the index; GET `prefix/NAME` → that file; any other name under it → 404. */
export function buildStaticRoutes(options: StaticRoutesOptions): Router {
  const byName = new Map<string, Prepared>();
  for (const file of options.files) {
    const immutable = file.name !== options.index;
    byName.set(file.name, prepare(file, immutable ? 'public, max-age=31536000, immutable' : 'no-cache'));
  }
  const index = byName.get(options.index);
  if (!index) throw new MomError('internal', `static files under ${options.prefix}: the index ${options.index} is missing`);
  return new Router()
    .get(options.prefix, (ctx) => send(ctx, index))
    .get(`${options.prefix}/:name`, (ctx) => {
      const file = byName.get(ctx.params.name!);
      if (!file) throw new MomError('not_found', `no file ${ctx.params.name} under ${options.prefix}; the page starts at ${options.prefix}`);
      send(ctx, file);
    });
}

/**
 * What `GET prefix` answers when the page was not built (a checkout compiled with tsc alone):
 * 404 naming the command that builds it.
 */
export function buildMissingStaticRoutes(prefix: string, why: string): Router {
  const missing = ({ req }: RequestContext) => {
    req.resume();
    throw new MomError('not_found', why);
  };
  return new Router().get(prefix, missing).get(`${prefix}/:name`, missing);
}

function prepare(file: StaticFile, cacheControl: string): Prepared {
  const etag = `"${createHash('sha256').update(file.body).digest('base64url').slice(0, 22)}"`;
  return {
    body: file.body,
    etag,
    headers: {
      ...SECURITY_HEADERS,
      'content-type': contentTypeOf(file.name),
      'cache-control': cacheControl,
      etag,
    },
  };
}

function send({ req, res }: RequestContext, file: Prepared): void {
  req.resume();
  if (etagMatches(req.headers['if-none-match'], file.etag)) {
    res.writeHead(304, file.headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...file.headers, 'content-length': String(file.body.length) });
  res.end(file.body);
}

/** RFC 9110 §13.1.2: `If-None-Match` is `*` or a list of (possibly weak) entity tags. */
function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}
