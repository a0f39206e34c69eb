/**
 * src/config/load.ts (DESIGN §9): config.example.json loads and documents every setting;
 * precedence is flags > environment > file > defaults; unknown keys and bad values stop the
 * start with a message that names them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { loadConfig } from '../../src/config/load';
import { SETTINGS } from '../../src/config/settings';
import { isMomError } from '../../src/core/errors';
import { REPO_ROOT } from '../helpers/broker';

const EXAMPLE = join(REPO_ROOT, 'config.example.json');

function writeConfig(t: TestContext, values: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'mom-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'config.json');
  writeFileSync(file, typeof values === 'string' ? values : JSON.stringify(values));
  return file;
}

/** Asserts that `fn` throws a config_invalid MomError whose message matches every pattern. */
function assertConfigError(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isMomError(error), `expected a MomError, got ${String(error)}`);
    assert.equal(error.code, 'config_invalid');
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

test('config.example.json loads and sets every setting, each with a comment', () => {
  const raw = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, unknown>;
  for (const setting of SETTINGS) {
    assert.ok(setting.key in raw, `config.example.json lacks ${setting.key}`);
    assert.equal(typeof raw[`//${setting.key}`], 'string', `config.example.json lacks the comment //${setting.key}`);
  }
  const config = loadConfig({ file: EXAMPLE, env: {} });
  assert.deepEqual(config.roles, ['node', 'replicator']);
  assert.equal(config.nodeId, 'node-2');
  assert.deepEqual(config.listen, { host: '0.0.0.0', port: 7001 });
  assert.ok(config.zookeeper, 'a cluster node names its ZooKeeper');
  assert.ok(config.authUrl, 'a cluster node names the auth role');
  assert.ok(config.clusterSecret, 'a cluster node has the cluster secret');
  // Every value comes from the file: none is left at a default it did not state.
  for (const setting of SETTINGS) assert.notEqual(config[setting.key], undefined, `${setting.key} is set`);
});

test('defaults apply when nothing is given', () => {
  const config = loadConfig({ env: {} });
  for (const setting of SETTINGS) assert.deepEqual(config[setting.key], setting.default, setting.key);
});

test('precedence: flags > environment > file > defaults', (t) => {
  const file = writeConfig(t, { partitions: 8, nodeId: 'from-file', logLevel: 'warn', fsync: 'always' });
  const env = { MOM_PARTITIONS: '12', MOM_NODE_ID: 'from-env' };
  const flags = { partitions: '20' };

  const config = loadConfig({ file, env, flags });
  assert.equal(config.partitions, 20, 'the flag wins over env and file');
  assert.equal(config.nodeId, 'from-env', 'env wins over the file');
  assert.equal(config.logLevel, 'warn', 'the file wins over the default');
  assert.equal(config.fsync, 'always');
  assert.equal(config.replicationFactor, 3, 'the default when nobody sets it');

  assert.equal(loadConfig({ file, env }).partitions, 12);
  assert.equal(loadConfig({ file, env: {} }).partitions, 8);
  // An empty environment variable counts as unset.
  assert.equal(loadConfig({ file, env: { MOM_PARTITIONS: '' } }).partitions, 8);
});

test('unknown keys in the file are refused by name; // comments are not keys', (t) => {
  const file = writeConfig(t, { '//partitions': 'a comment', partitions: 4, partitons: 8, nodeID: 'x' });
  assertConfigError(() => loadConfig({ file, env: {} }), /unknown key\(s\)/, /partitons/, /nodeID/, new RegExp(file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
});

test('bad values name the setting and where it came from', (t) => {
  const file = writeConfig(t, { listen: '7001' });
  assertConfigError(() => loadConfig({ file, env: {} }), /listen: expected host:port, got "7001"/);
  assertConfigError(() => loadConfig({ env: { MOM_PARTITIONS: 'many' } }), /MOM_PARTITIONS: expected an integer/, /"many"/);
  assertConfigError(() => loadConfig({ env: {}, flags: { fsync: 'sometimes' } }), /--fsync: expected always, batch or never/);
  assertConfigError(() => loadConfig({ env: {}, flags: { roles: 'node,broker' } }), /--role/);
  assertConfigError(() => loadConfig({ env: {}, flags: { replicationFactor: 0 } }), /--replication-factor: expected an integer from 1 to 7/);
  const typed = writeConfig(t, { uncleanElection: 'yes' });
  assertConfigError(() => loadConfig({ file: typed, env: {} }), /uncleanElection: expected true or false/);
});

test('a file that is not a JSON object is refused with its path', (t) => {
  const broken = writeConfig(t, '{"partitions": 4,');
  assertConfigError(() => loadConfig({ file: broken, env: {} }), /is not valid JSON/);
  const array = writeConfig(t, [1, 2]);
  assertConfigError(() => loadConfig({ file: array, env: {} }), /must hold a JSON object/);
  assertConfigError(() => loadConfig({ file: join(tmpdir(), 'no-such-mom-config.json'), env: {} }), /no-such-mom-config\.json/);
});

test('role combinations are checked: replicator needs node, all stands alone', () => {
  assertConfigError(() => loadConfig({ env: {}, flags: { roles: 'replicator' } }), /replicator needs node/);
  assertConfigError(() => loadConfig({ env: {}, flags: { roles: 'all,gateway' } }), /all/);
});
