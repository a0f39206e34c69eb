import { buildMissingStaticRoutes, buildStaticRoutes, type StaticFile } from '../../http/static-files';
import type { Router } from '../../http/router';
import { loadUiFiles } from './ui-files';

export const UI_PREFIX = '/ui';
export const UI_INDEX = 'index.html';

/**
 * `GET /ui`: the management web page (DESIGN §8), served by the gateway and by `--role all`.
 * The page is static files that talk to the public API of the same origin with the logged-in
 * user's token, so it may do what that user may do and nothing more; it needs no route of its
 * own beyond these files (and `GET /v1/users`, admin only, on the auth role).
 */
export function buildUiRoutes(load: () => StaticFile[] | undefined = loadUiFiles): Router {
  const files = load();
  if (!files || !files.some((file) => file.name === UI_INDEX)) {
    return buildMissingStaticRoutes(UI_PREFIX, 'the web page is not built in this installation: run `npm run build` (it writes build/ui/) or use the bundle (`npm run bundle`)');
  }
  return buildStaticRoutes({ prefix: UI_PREFIX, index: UI_INDEX, files });
}
