/**
 * The generated replication code is what `npm run proto` makes (DESIGN §5: generated code
 * lives in one folder and is never edited by hand): the `proto` script of package.json, run
 * into a temp dir, reproduces every file under src/gen byte for byte, and nothing more.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/broker';

const PROTOC_MISSING = 'protoc not found: install protobuf-compiler (apt-get install -y protobuf-compiler)';

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (current: string) => {
    for (const entry of readdirSync(current).sort()) {
      const path = join(current, entry);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(dir, path));
    }
  };
  walk(dir);
  return out;
}

function firstDifference(a: string, b: string): string {
  const left = a.split('\n');
  const right = b.split('\n');
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    if (left[i] !== right[i]) return `line ${i + 1}: checked in ${JSON.stringify(left[i])}, generated ${JSON.stringify(right[i])}`;
  }
  return 'no line differs (line endings or a trailing byte)';
}

test('npm run proto reproduces src/gen byte for byte', (t) => {
  const version = spawnSync('protoc', ['--version'], { encoding: 'utf8' });
  if (version.error) assert.fail(`${PROTOC_MISSING} (${version.error.message})`);
  assert.equal(version.status, 0, `${PROTOC_MISSING}: protoc --version exited ${version.status} ${version.stderr}`);

  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const script = pkg.scripts.proto;
  assert.ok(script, 'package.json has a "proto" script');
  const [command, ...args] = script.trim().split(/\s+/);
  assert.equal(command, 'protoc', 'the proto script runs protoc');
  const outArg = args.findIndex((arg) => arg.startsWith('--ts_proto_out='));
  assert.ok(outArg >= 0, 'the proto script writes with --ts_proto_out=');
  const checkedIn = join(REPO_ROOT, args[outArg]!.slice('--ts_proto_out='.length));

  const out = mkdtempSync(join(tmpdir(), 'mom-proto-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  args[outArg] = `--ts_proto_out=${out}`;
  const run = spawnSync('protoc', args, { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(run.status, 0, `protoc ${args.join(' ')} failed: ${run.stderr}`);

  const generated = filesUnder(out);
  assert.ok(generated.length > 0, 'protoc generated something');
  assert.deepEqual(filesUnder(checkedIn), generated, `the same files under ${relative(REPO_ROOT, checkedIn)} as protoc generates`);
  for (const file of generated) {
    const mine = readFileSync(join(checkedIn, file));
    const fresh = readFileSync(join(out, file));
    assert.ok(mine.equals(fresh), `${file} differs from what npm run proto generates (${firstDifference(mine.toString('utf8'), fresh.toString('utf8'))}); run npm run proto`);
  }
});
