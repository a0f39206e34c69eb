/** scripts/check-layers.mjs finds imports against the layers (DESIGN §10) and passes the real tree. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, tempDir } from '../helpers/broker';

const SCRIPT = join(REPO_ROOT, 'scripts', 'check-layers.mjs');

function check(srcDir?: string) {
  return spawnSync(process.execPath, [SCRIPT, ...(srcDir ? [srcDir] : [])], { encoding: 'utf8' });
}

test('the source tree has no import against the layers', () => {
  const result = check();
  assert.equal(result.status, 0, result.stderr);
});

test('an import from a lower layer into a higher one, or out of src/, is named', () => {
  const src = tempDir('mom-layers-');
  for (const dir of ['core', 'store', 'roles', 'client']) mkdirSync(join(src, dir));
  writeFileSync(join(src, 'roles', 'ok.ts'), "import { x } from '../store/y';\n");
  writeFileSync(join(src, 'store', 'bad.ts'), "import type { NodeRole } from '../roles/node';\n");
  writeFileSync(join(src, 'core', 'io.ts'), "export { readFileSync } from '../store/files';\n");
  writeFileSync(join(src, 'client', 'tool.ts'), "const x = require('../../bench/run');\n");
  const result = check(src);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /store\/bad\.ts: imports \.\.\/roles\/node \(roles\/\), which store\/ may not depend on/);
  assert.match(result.stderr, /core\/io\.ts: imports \.\.\/store\/files/);
  assert.match(result.stderr, /client\/tool\.ts: imports \.\.\/\.\.\/bench\/run, outside src\//);
  assert.doesNotMatch(result.stderr, /roles\/ok\.ts/);
});
