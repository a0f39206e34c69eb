import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkJsonText, MAX_JSON_DEPTH, sameDecimal } from '../../src/core/json-text';

function nested(depth: number, inner = '1'): string {
  return `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`;
}

test('nesting up to the bound passes; one level more is bad_request', () => {
  checkJsonText(nested(MAX_JSON_DEPTH));
  assert.throws(() => checkJsonText(nested(MAX_JSON_DEPTH + 1)), { code: 'bad_request' });
  assert.throws(() => checkJsonText(`{"payload":${nested(4100)}}`), { code: 'bad_request', message: /deeper than 100/ });
  // Siblings do not add up: depth is nesting, not the count of brackets.
  checkJsonText(`[${Array.from({ length: 1000 }, () => '[[1]]').join(',')}]`);
  const deepObject = `${'{"a":'.repeat(MAX_JSON_DEPTH)}1${'}'.repeat(MAX_JSON_DEPTH)}`;
  checkJsonText(deepObject);
  assert.throws(() => checkJsonText(`[${deepObject}]`), { code: 'bad_request' });
});

test('brackets, quotes and digits inside strings are text', () => {
  checkJsonText(JSON.stringify({ s: '['.repeat(500), t: '"\\"[[[', n: '1e400', m: '99999999999999999999' }));
  checkJsonText('["a\\\\", 1, "[[[["]');
  checkJsonText(JSON.stringify('\\'.repeat(7) + '"' + '{'.repeat(200)));
});

test('numbers that survive the round trip pass; others are bad_request', () => {
  for (const ok of ['0', '-0', '1.5', '0.1', '1e300', '1E-300', '9007199254740991', '-9007199254740991', '1.0', '1.50', '123456789012.25', '5e-324', '1.7976931348623157e308', '0.30000000000000004']) {
    checkJsonText(`[${ok}]`);
  }
  for (const bad of ['1e400', '-1e400', '9007199254740993', '12345678901234567890', '18446744073709551616', '1e-400', '1.00000000000000000001', '0.1000000000000000055511151231257827']) {
    assert.throws(() => checkJsonText(`{"payload":${bad}}`), { code: 'bad_request' }, bad);
  }
  // Integers past 2^53 are refused even when this one happens to be exact.
  assert.throws(() => checkJsonText('[9007199254740992]'), { code: 'bad_request', message: /2\^53/ });
});

test('sameDecimal compares decimal values, not spellings', () => {
  assert.ok(sameDecimal('1.50', '1.5'));
  assert.ok(sameDecimal('150e-2', '1.5'));
  assert.ok(sameDecimal('1e21', '1e+21'));
  assert.ok(sameDecimal('0.000', '0'));
  assert.ok(sameDecimal('-0', '0'));
  assert.ok(!sameDecimal('1.5', '-1.5'));
  assert.ok(!sameDecimal('12345678901234567890', '12345678901234567000'));
});
