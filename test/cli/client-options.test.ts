import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { DEFAULT_URL, integerOption, normalizeUrl, resolveClientSettings } from '../../src/cli/client-options';

function dir(t: TestContext, files: Record<string, string> = {}): string {
  const path = mkdtempSync(join(tmpdir(), 'mom-client-options-'));
  t.after(() => rmSync(path, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(path, name), text);
  return path;
}

const MOMPY_CONFIG = JSON.stringify({ API_SERVER_LOCATION: 'http://10.0.0.5:8080', USERNAME: 'file-user', PASSWORD: 'file-pass' });

test('flags win over the environment, which wins over the config file', (t) => {
  const cwd = dir(t, { 'config.json': MOMPY_CONFIG });
  const env = { MOM_URL: 'http://env:1', MOM_USER: 'env-user', MOM_PASSWORD: 'env-pass' };
  assert.deepEqual(resolveClientSettings({ flags: { url: 'http://flag:2', user: 'flag-user', password: 'flag-pass' }, env, cwd }), {
    url: 'http://flag:2',
    user: 'flag-user',
    password: 'flag-pass',
  });
  assert.deepEqual(resolveClientSettings({ flags: { user: 'flag-user' }, env, cwd }), { url: 'http://env:1', user: 'flag-user', password: 'env-pass' });
  assert.deepEqual(resolveClientSettings({ flags: {}, env: { MOM_PASSWORD: 'env-pass' }, cwd }), {
    url: 'http://10.0.0.5:8080',
    user: 'file-user',
    password: 'env-pass',
  });
});

test('./config.json in the MOM-py format is read when present', (t) => {
  const cwd = dir(t, { 'config.json': MOMPY_CONFIG });
  assert.deepEqual(resolveClientSettings({ flags: {}, env: {}, cwd }), { url: 'http://10.0.0.5:8080', user: 'file-user', password: 'file-pass' });
});

test('--client-config names the file; MOM_SERVER_LOCATION works too, and a location without scheme gets http://', (t) => {
  const cwd = dir(t, { 'client.json': JSON.stringify({ MOM_SERVER_LOCATION: '127.0.0.1:5000/', USERNAME: 'u', PASSWORD: 'p' }) });
  assert.deepEqual(resolveClientSettings({ flags: { clientConfig: 'client.json' }, env: {}, cwd }), { url: 'http://127.0.0.1:5000', user: 'u', password: 'p' });
});

test('without any source the URL is the default and missing credentials are a clear error', (t) => {
  const cwd = dir(t);
  assert.throws(() => resolveClientSettings({ flags: {}, env: {}, cwd }), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'config_invalid');
    assert.match(error.message, /no user \(--user, MOM_USER or USERNAME\) and password \(--password, MOM_PASSWORD or PASSWORD\)/);
    return true;
  });
  assert.throws(() => resolveClientSettings({ flags: { user: 'u' }, env: {}, cwd }), /no password/);
  assert.deepEqual(resolveClientSettings({ flags: {}, env: {}, cwd }, false), { url: DEFAULT_URL, user: undefined, password: undefined });
});

test('an empty environment variable counts as unset', (t) => {
  const cwd = dir(t);
  assert.deepEqual(resolveClientSettings({ flags: { user: 'u', password: 'p' }, env: { MOM_URL: '' }, cwd }), { url: DEFAULT_URL, user: 'u', password: 'p' });
});

test('bad config files are named in the error', (t) => {
  const cwd = dir(t, { 'config.json': '{not json', 'array.json': '[]', 'typed.json': JSON.stringify({ USERNAME: 42 }) });
  assert.throws(() => resolveClientSettings({ flags: {}, env: {}, cwd }), /config\.json: not valid JSON/);
  assert.throws(() => resolveClientSettings({ flags: { clientConfig: 'array.json' }, env: {}, cwd }), /array\.json: expected a JSON object/);
  assert.throws(() => resolveClientSettings({ flags: { clientConfig: 'typed.json' }, env: {}, cwd }), /typed\.json: USERNAME: expected a non-empty string, got 42/);
  assert.throws(() => resolveClientSettings({ flags: { clientConfig: 'missing.json' }, env: {}, cwd }), /cannot read .*missing\.json: ENOENT/);
});

test('a server config.json without client keys is ignored', (t) => {
  const cwd = dir(t, { 'config.json': JSON.stringify({ listen: '127.0.0.1:8080', data: './mom-data' }) });
  assert.deepEqual(resolveClientSettings({ flags: { user: 'u', password: 'p' }, env: {}, cwd }), { url: DEFAULT_URL, user: 'u', password: 'p' });
});

test('URLs are checked and keep their path', () => {
  assert.equal(normalizeUrl('https://mom.example.com/prod/', '--url'), 'https://mom.example.com/prod');
  assert.equal(normalizeUrl('localhost:8080', '--url'), 'http://localhost:8080');
  assert.throws(() => normalizeUrl('ftp://x', '--url'), /--url: expected an http/);
  assert.throws(() => normalizeUrl('http://', 'MOM_URL'), /MOM_URL: expected a URL/);
});

test('integer flags are bounded and named', () => {
  assert.equal(integerOption(undefined, '--max', 1), undefined);
  assert.equal(integerOption('25', '--max', 1), 25);
  assert.throws(() => integerOption('0', '--max', 1), /--max: expected an integer from 1/);
  assert.throws(() => integerOption('1.5', '--wait-ms', 0, 30_000), /--wait-ms: expected an integer from 0 to 30000, got "1.5"/);
});
