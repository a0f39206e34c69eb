import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertValidName, isValidName } from '../../src/core/names';

test('names: letters, digits, _ - . and no leading dot, 1-128 chars', () => {
  for (const good of ['a', 'logs', 'logs.app', 'A_b-c.9', '-x', '_', 'x'.repeat(128)]) assert.ok(isValidName(good), good);
  for (const bad of ['', '.', '..', '.hidden', 'a/b', 'a b', 'ä', 'x'.repeat(129), 'a*']) assert.ok(!isValidName(bad), bad);
});

test('assertValidName throws invalid_name naming the kind', () => {
  assert.throws(() => assertValidName('queue', '..'), (error: { code: string; message: string }) => error.code === 'invalid_name' && error.message.includes('queue'));
});
