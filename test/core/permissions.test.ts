/** Who may do what (DESIGN §7-8): grants per exchange pattern, admin may do everything. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exchangePatternMatches, isAction, isAllowed, type Principal } from '../../src/core/permissions';

function user(grants: Principal['grants'], admin = false): Principal {
  return { userId: 7, username: 'alice', admin, grants };
}

test('only publish, consume and configure are actions', () => {
  assert.equal(isAction('publish'), true);
  assert.equal(isAction('consume'), true);
  assert.equal(isAction('configure'), true);
  assert.equal(isAction('admin'), false);
  assert.equal(isAction('Publish'), false, 'case-sensitive');
  assert.equal(isAction(''), false);
});

test('a pattern without * is the exchange name itself', () => {
  assert.equal(exchangePatternMatches('logs', 'logs'), true);
  assert.equal(exchangePatternMatches('logs', 'logs2'), false);
  assert.equal(exchangePatternMatches('logs', 'Logs'), false);
});

test('* matches any run of characters, empty included; everything else is literal', () => {
  assert.equal(exchangePatternMatches('*', 'anything'), true);
  assert.equal(exchangePatternMatches('logs.*', 'logs.app'), true);
  assert.equal(exchangePatternMatches('logs.*', 'logs.'), true);
  assert.equal(exchangePatternMatches('logs.*', 'logsXapp'), false, 'the dot is a dot, not any character');
  assert.equal(exchangePatternMatches('logs.*', 'audit.logs.app'), false, 'anchored at the start');
  assert.equal(exchangePatternMatches('*-eu', 'billing-eu'), true);
  assert.equal(exchangePatternMatches('*-eu', 'billing-eu-2'), false, 'anchored at the end');
  assert.equal(exchangePatternMatches('a*b*c', 'a-x-b-y-c'), true);
  assert.equal(exchangePatternMatches('a+*', 'aa'), false, 'regular expression syntax has no meaning');
  assert.equal(exchangePatternMatches('a+*', 'a+b'), true);
});

test('a grant allows its actions on the exchanges its pattern matches, and nothing else', () => {
  const alice = user([
    { exchange: 'logs.*', actions: ['publish'] },
    { exchange: 'billing', actions: ['consume', 'configure'] },
  ]);
  assert.equal(isAllowed(alice, 'publish', 'logs.app'), true);
  assert.equal(isAllowed(alice, 'consume', 'logs.app'), false, 'another action on the same exchange');
  assert.equal(isAllowed(alice, 'publish', 'billing'), false, 'the action of another grant');
  assert.equal(isAllowed(alice, 'consume', 'billing'), true);
  assert.equal(isAllowed(alice, 'configure', 'billing'), true);
  assert.equal(isAllowed(alice, 'configure', 'audit'), false);
  assert.equal(isAllowed(user([]), 'consume', 'logs'), false, 'no grants, no access');
});

test('admin may do everything, grants or not', () => {
  const admin = user([], true);
  for (const action of ['publish', 'consume', 'configure'] as const) assert.equal(isAllowed(admin, action, 'any-exchange'), true);
});
