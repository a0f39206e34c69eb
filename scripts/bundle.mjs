#!/usr/bin/env node
// The single-file deploy (DESIGN §9): `npm run bundle` writes
//
//   dist/mombroker.cjs        src/cli/main.ts and every dependency, one CommonJS file (node20)
//   dist/better_sqlite3.node  better-sqlite3's native addon, the only other file
//                             (the web page's files are inside mombroker.cjs)
//
// Copy both into one directory and run `node mombroker.cjs --role all` (or `./mombroker.cjs`).
// `node scripts/bundle.mjs --outdir DIR` writes the two files into DIR instead (tests use it).
//
// How the bundle finds the addon: better-sqlite3 loads it with `require('bindings')
// ('better_sqlite3.node')`, and `bindings` searches node_modules-shaped paths that do not
// exist beside a bundle. The `native-addon-beside-bundle` plugin below replaces the `bindings`
// module, inside the bundle only, with a function that requires the addon from the bundle's
// own directory (`__dirname` of dist/mombroker.cjs). No source file knows about bundling.
//
// The web page (GET /ui) travels inside the bundle: the `ui-files-inside-bundle` plugin builds
// it (scripts/build-ui.mjs) and replaces src/roles/gateway/ui-files.ts, which reads build/ui/,
// with a module that holds the files, so the deploy stays two files.
import { build } from 'esbuild';
import { buildUi } from './build-ui.mjs';
import { chmodSync, copyFileSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ADDON = 'better_sqlite3.node';

/** Finds the built addon of the installed better-sqlite3 (prebuilt or compiled on install). */
function addonSource() {
  const require = createRequire(join(root, 'package.json'));
  const packageDir = dirname(require.resolve('better-sqlite3/package.json'));
  const path = join(packageDir, 'build', 'Release', ADDON);
  try {
    statSync(path);
  } catch {
    throw new Error(`${path} is missing: run npm install (better-sqlite3 builds or downloads its addon on install)`);
  }
  return path;
}

/** `require('bindings')(name)` → the addon file next to the bundle (see the header). */
const nativeAddonBesideBundle = {
  name: 'native-addon-beside-bundle',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^bindings$/ }, (args) => ({ path: args.path, namespace: 'mom-bindings' }));
    pluginBuild.onLoad({ filter: /.*/, namespace: 'mom-bindings' }, () => ({
      loader: 'js',
      contents: `
        const { join } = require('node:path');
        module.exports = function bindings(name) {
          const file = name.endsWith('.node') ? name : name + '.node';
          // __dirname is the bundle's directory: the addon ships beside dist/mombroker.cjs.
          return require(join(__dirname, file));
        };
      `,
    }));
  },
};

/** src/roles/gateway/ui-files.ts → the built page's files, inside the bundle (see the header). */
function uiFilesInsideBundle(files) {
  const state = { replaced: false };
  const plugin = {
    name: 'ui-files-inside-bundle',
    setup(pluginBuild) {
      pluginBuild.onLoad({ filter: /[\\/]src[\\/]roles[\\/]gateway[\\/]ui-files\.ts$/ }, () => {
        state.replaced = true;
        const encoded = JSON.stringify(files.map((file) => [file.name, file.body.toString('base64')]));
        return {
          loader: 'js',
          contents: `
            const FILES = ${encoded};
            exports.UI_BUILD_DIR = '(inside the bundle)';
            exports.loadUiFiles = () => FILES.map(([name, body]) => ({ name, body: Buffer.from(body, 'base64') }));
          `,
        };
      });
    },
  };
  return { plugin, state };
}

export async function bundle({ outDir = join(root, 'dist'), quiet = false } = {}) {
  const outFile = join(outDir, 'mombroker.cjs');
  mkdirSync(outDir, { recursive: true });
  // The page's type check belongs to npm run build; the bundle, like the server code, is esbuild's.
  const uiFiles = uiFilesInsideBundle(await buildUi({ typecheck: false }));
  const result = await build({
    stdin: {
      // The entry wrapper: the CLI module exports main(); the bundle runs it.
      // Worker threads (the WAL checkpointer) load this same file: only the main thread runs the CLI.
      contents: "if (require('node:worker_threads').isMainThread) require('./src/cli/main').main(process.argv);\n",
      resolveDir: root,
      sourcefile: 'mombroker-entry.js',
      loader: 'js',
    },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile: outFile,
    banner: { js: '#!/usr/bin/env node' },
    tsconfig: join(root, 'tsconfig.json'),
    plugins: [nativeAddonBesideBundle, uiFiles.plugin],
    legalComments: 'none',
    logLevel: quiet ? 'error' : 'warning',
    // @grpc/grpc-js requires @grpc/proto-loader lazily for channelz/ORCA, which we never
    // enable; it is not a dependency, so leave that require unresolved.
    external: ['@grpc/proto-loader'],
  });
  if (result.errors.length > 0) throw new Error('esbuild failed');
  if (!uiFiles.state.replaced) throw new Error('src/roles/gateway/ui-files.ts was not bundled: the bundle would not serve GET /ui');
  chmodSync(outFile, 0o755);
  copyFileSync(addonSource(), join(outDir, ADDON));
  if (!quiet) {
    const kib = (path) => `${Math.round(statSync(path).size / 1024)} KiB`;
    console.log(`${outFile} (${kib(outFile)}) and ${join(outDir, ADDON)} (${kib(join(outDir, ADDON))})`);
  }
  return { outFile, addon: join(outDir, ADDON) };
}

function parseArgs(argv) {
  const options = { quiet: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--quiet') options.quiet = true;
    else if (argv[i] === '--outdir' && argv[i + 1]) options.outDir = resolve(argv[++i]);
    else throw new Error(`unknown argument ${JSON.stringify(argv[i])}; usage: node scripts/bundle.mjs [--outdir DIR] [--quiet]`);
  }
  return options;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  Promise.resolve()
    .then(() => bundle(parseArgs(process.argv.slice(2))))
    .catch((error) => {
      console.error(`bundle: ${error.message}`);
      process.exit(1);
    });
}
