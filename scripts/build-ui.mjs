#!/usr/bin/env node
// The management web page (DESIGN §8 `GET /ui`): src/ui/ → static files, served by the gateway
// and `--role all` from memory (src/roles/gateway/ui-route.ts).
//
//   index.html              src/ui/index.html with the hashed names filled in (no-cache)
//   app-<hash>.js           src/ui/main.ts and what it imports, one minified script (immutable)
//   app-<hash>.css          src/ui/style.css (immutable)
//   icon-<hash>.svg         src/ui/icon.svg (immutable)
//
// No inline script or style anywhere: the page is served with `default-src 'self'`.
// `node scripts/build-ui.mjs [--outdir DIR] [--no-typecheck]`; `npm run build` runs it (into
// build/ui/) after tsc, with the page's own type check (src/ui/tsconfig.json: the DOM's types,
// which the server's compilation does not have). scripts/bundle.mjs calls buildUi() to put the
// files inside dist/mombroker.cjs.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const uiSrc = join(root, 'src', 'ui');

/** The same 8-character hash style as esbuild's `[hash]`, for the files esbuild does not emit. */
function contentHash(body) {
  return createHash('sha256').update(body).digest('hex').slice(0, 8).toUpperCase();
}

function typecheck() {
  const require = createRequire(join(root, 'package.json'));
  const tsc = require.resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(uiSrc, 'tsconfig.json')], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error('the page does not type-check (src/ui/tsconfig.json)');
}

/**
 * Builds the page. Answers its files as `[{name, body}]`; writes them into `outDir` too when
 * given (emptying it first).
 */
export async function buildUi({ outDir, typecheck: check = true } = {}) {
  if (check) typecheck();
  const result = await build({
    entryPoints: { app: join(uiSrc, 'main.ts'), 'app-style': join(uiSrc, 'style.css') },
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['chrome100', 'firefox100', 'safari15'],
    entryNames: '[name]-[hash]',
    outdir: '/ui-out',
    write: false,
    legalComments: 'none',
    logLevel: 'error',
    tsconfig: join(uiSrc, 'tsconfig.json'),
  });
  const files = [];
  let script;
  let style;
  for (const output of result.outputFiles) {
    let name = basename(output.path);
    // esbuild names a CSS entry after the entry point; the page wants app-<hash>.css.
    if (name.startsWith('app-style-')) name = `app-${name.slice('app-style-'.length)}`;
    if (name.endsWith('.js')) script = name;
    else if (name.endsWith('.css')) style = name;
    files.push({ name, body: Buffer.from(output.contents) });
  }
  if (!script || !style) throw new Error(`esbuild did not emit the page's script and style: ${files.map((f) => f.name).join(', ')}`);
  const iconBody = readFileSync(join(uiSrc, 'icon.svg'));
  const icon = `icon-${contentHash(iconBody)}.svg`;
  files.push({ name: icon, body: iconBody });
  const template = readFileSync(join(uiSrc, 'index.html'), 'utf8');
  const names = { 'app.js': script, 'app.css': style, 'icon.svg': icon };
  const html = template.replace(/\{\{(app\.js|app\.css|icon\.svg)\}\}/g, (_, key) => names[key]);
  if (/\{\{/.test(html)) throw new Error('src/ui/index.html has a placeholder build-ui.mjs does not know');
  files.push({ name: 'index.html', body: Buffer.from(html) });
  if (outDir) {
    rmSync(outDir, { recursive: true, force: true });
    mkdirSync(outDir, { recursive: true });
    for (const file of files) writeFileSync(join(outDir, file.name), file.body);
  }
  return files;
}

function parseArgs(argv) {
  const options = { outDir: join(root, 'build', 'ui'), typecheck: true };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--no-typecheck') options.typecheck = false;
    else if (argv[i] === '--outdir' && argv[i + 1]) options.outDir = resolve(argv[++i]);
    else throw new Error(`unknown argument ${JSON.stringify(argv[i])}; usage: node scripts/build-ui.mjs [--outdir DIR] [--no-typecheck]`);
  }
  return options;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  Promise.resolve()
    .then(() => buildUi(parseArgs(process.argv.slice(2))))
    .catch((error) => {
      console.error(`build-ui: ${error.message}`);
      process.exit(1);
    });
}
