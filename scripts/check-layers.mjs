#!/usr/bin/env node
// Fails when a file under src/ imports a folder its layer may not depend on (DESIGN §10):
// core ← runtime, config ← store, coordination, http ← replication ← log ← roles ← cli; the
// SDK (client) imports no server code, and the load generator (loadgen) only the SDK. `node scripts/check-layers.mjs [SRC_DIR]`; npm
// test runs it first.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** What each top folder of src/ may import, besides itself. */
export const ALLOWED = {
  core: [],
  gen: [],
  runtime: ['core'],
  config: ['core', 'runtime'],
  store: ['core', 'runtime', 'config'],
  coordination: ['core', 'runtime', 'config'],
  http: ['core', 'runtime', 'config'],
  replication: ['core', 'runtime', 'config', 'gen', 'store', 'coordination'],
  log: ['core', 'runtime', 'config', 'store', 'coordination', 'replication'],
  roles: ['core', 'runtime', 'config', 'gen', 'store', 'coordination', 'http', 'replication', 'log'],
  cli: ['core', 'runtime', 'config', 'store', 'client', 'roles', 'loadgen'],
  client: [],
  // The load generator of `mombroker bench`: drives a broker through the SDK, like a user's program.
  loadgen: ['client'],
  ui: [],
};

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"`;]*?from\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|\brequire\(\s*['"]([^'"]+)['"]\s*\)/g;

function sources(dir) {
  const files = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) files.push(...sources(path));
    else if (/\.(ts|tsx|mts)$/.test(entry) && !entry.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

/** Every import in `srcDir` that runs against the layers, as "file: imports X (layer may not)". */
export function findViolations(srcDir) {
  const root = resolve(srcDir);
  const violations = [];
  for (const file of sources(root)) {
    const layer = relative(root, file).split(sep)[0];
    const allowed = ALLOWED[layer];
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(IMPORT)) {
      const specifier = match[1] ?? match[2] ?? match[3];
      if (!specifier || !specifier.startsWith('.')) continue;
      const target = relative(root, resolve(dirname(file), specifier));
      if (target.startsWith('..')) {
        violations.push(`${relative(root, file)}: imports ${specifier}, outside src/ (the shipped program must not depend on tooling)`);
        continue;
      }
      const targetLayer = target.split(sep)[0];
      if (targetLayer === layer) continue;
      if (allowed === undefined) {
        violations.push(`${relative(root, file)}: folder ${layer}/ has no place in the layers; add it to ALLOWED in scripts/check-layers.mjs`);
        break;
      }
      if (!allowed.includes(targetLayer)) {
        violations.push(`${relative(root, file)}: imports ${specifier} (${targetLayer}/), which ${layer}/ may not depend on`);
      }
    }
  }
  return violations;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const srcDir = process.argv[2] ?? join(dirname(new URL(import.meta.url).pathname), '..', 'src');
  const violations = findViolations(srcDir);
  if (violations.length > 0) {
    console.error(`check-layers: ${violations.length} import(s) against the layers (DESIGN §10):\n  ${violations.join('\n  ')}`);
    process.exit(1);
  }
}
