/**
 * The README's TypeScript SDK example, run as written: from a project that installed this
 * directory (`npm install /path/to/mombroker`, as the README says), as the user the Quick start
 * creates with the README's own commands, against a running broker. Also that
 * `mombroker/client` (and `mombroker`) resolve there for require and import.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, startBroker } from '../helpers/broker';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

/** The first fenced block with `language` after `heading`. */
function block(heading: string, language: string): string {
  const section = README.indexOf(heading);
  assert.ok(section >= 0, `the README has ${heading}`);
  const start = README.indexOf('```' + language + '\n', section);
  const end = README.indexOf('\n```', start + 1);
  assert.ok(start >= 0 && end > start, `a ${language} block after ${heading}`);
  return README.slice(start + language.length + 4, end + 1);
}

function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; input?: string }): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { cwd: options.cwd, env: options.env ?? process.env, input: options.input, encoding: 'utf8', timeout: 120_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('the README SDK example runs as written, as alice, from a project that installed mombroker', { timeout: 180_000 }, async (t) => {
  const broker = await startBroker(t);
  const project = mkdtempSync(join(tmpdir(), 'mom-sdk-user-'));
  t.after(() => rmSync(project, { recursive: true, force: true }));

  // The Quick start's user commands, word for word, on this broker's data dir.
  const env: NodeJS.ProcessEnv = { ...process.env, MOM_DATA: broker.dataDir };
  delete env.MOM_URL;
  delete env.MOM_PASSWORD;
  const userCommands = block('Add users by hand', 'sh')
    .split('\n')
    .filter((line) => /users (add|grant) alice/.test(line));
  assert.equal(userCommands.length, 2, 'users add alice and users grant alice');
  for (const line of userCommands) {
    const result = run('bash', ['-c', line], { cwd: REPO_ROOT, env });
    assert.equal(result.code, 0, `${line}: ${result.stderr}`);
  }
  const password = /echo '([^']+)' \| \.\/bin\/mombroker users add alice/.exec(userCommands[0]!)?.[1];
  assert.ok(password, 'the password the README gives alice');

  // `npm install /path/to/mombroker` in a fresh project: a link to this clone, no registry.
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'sdk-user', version: '1.0.0', private: true }));
  const install = run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', REPO_ROOT], { cwd: project });
  assert.equal(install.code, 0, install.stderr);
  const resolved = run(process.execPath, ['-e', "const a = require('mombroker/client'); const b = require('mombroker'); console.log(typeof a.connect, a.connect === b.connect)"], { cwd: project });
  assert.equal(resolved.stdout.trim(), 'function true', resolved.stderr);
  const types = JSON.parse(readFileSync(join(project, 'node_modules', 'mombroker', 'package.json'), 'utf8')) as { exports: Record<string, { types: string }> };
  assert.ok(readFileSync(join(project, 'node_modules', 'mombroker', types.exports['./client']!.types), 'utf8').includes('connect'), 'type declarations for TypeScript');

  // The example, saved as example.mjs, run as the README says.
  writeFileSync(join(project, 'example.mjs'), block('## TypeScript SDK', 'ts'));
  const example = run(process.execPath, ['example.mjs'], { cwd: project, env: { ...process.env, MOM_URL: broker.url, MOM_PASSWORD: password } });
  assert.equal(example.code, 0, `the example failed:\n${example.stdout}\n${example.stderr}`);
  const lines = example.stdout.trim().split('\n');
  assert.deepEqual(lines.slice(0, 4), ["order { sku: 41 } delivery 1", "order { sku: 42 } delivery 1", "order { sku: 43 } delivery 1", "news { headline: 'sale' }"]);
  assert.match(lines.slice(4).join('\n'), /name: 'orders'[\s\S]*depth: 0[\s\S]*in_flight: 0/, 'the queue is empty at the end');
});
