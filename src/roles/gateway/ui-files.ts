import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { StaticFile } from '../../http/static-files';

/**
 * Where `npm run build` writes the management page (scripts/build-ui.mjs): build/ui/, beside
 * build/src/ where this module runs from.
 */
export const UI_BUILD_DIR = resolve(__dirname, '..', '..', '..', 'ui');

/**
 * The page's built files, or `undefined` when they were not built (tsc alone). In the
 * single-file bundle this module is replaced by one that holds the files themselves
 * (scripts/bundle.mjs, plugin `ui-files-inside-bundle`), so the bundle needs no directory
 * beside it.
 */
export function loadUiFiles(): StaticFile[] | undefined {
  let names: string[];
  try {
    names = readdirSync(UI_BUILD_DIR);
  } catch {
    return undefined;
  }
  return names
    .filter((name) => statSync(join(UI_BUILD_DIR, name)).isFile())
    .map((name) => ({ name, body: readFileSync(join(UI_BUILD_DIR, name)) }));
}
