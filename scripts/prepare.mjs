#!/usr/bin/env node
// npm's `prepare` (run by `npm install` in a clone, and before `npm pack`): compiles to build/
// (and the web page to build/ui/, scripts/build-ui.mjs), so that bin/mombroker runs and `mombroker/client` resolves for a project that installs this
// directory (`npm install /path/to/mombroker`). Without TypeScript (an install that omits dev
// dependencies) it says how to build instead of failing the install.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  console.error('mombroker: typescript is not installed (dev dependencies omitted?): not compiling; run `npm install && npm run build` to build');
  process.exit(0);
}
const result = spawnSync(process.execPath, [tsc, '-p', new URL('../tsconfig.json', import.meta.url).pathname], { stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);
// The web page (GET /ui) into build/ui/, as npm run build does.
const page = spawnSync(process.execPath, [new URL('./build-ui.mjs', import.meta.url).pathname], { stdio: 'inherit' });
process.exit(page.status ?? 1);
