/** MOM-py's request body, parsed without a server (DESIGN §8, MOM-py compatibility). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMomPyRequest } from '../../src/core/mompy-request';

const push = { operation: 'push', type: 'q', data: { headers: { exchange: 'legacy', routing_key: 'jobs', message_date: '2024-05-01' }, body: 'hello' } };

test('a push names exchange, routing key, headers and body', () => {
  assert.deepEqual(parseMomPyRequest(push), {
    operation: 'push',
    type: 'q',
    exchange: 'legacy',
    routingKey: 'jobs',
    headers: { exchange: 'legacy', routing_key: 'jobs', message_date: '2024-05-01' },
    body: 'hello',
  });
});

test('malformed requests are bad_request with what is wrong', () => {
  const code = (value: unknown) => {
    try {
      parseMomPyRequest(value);
      return 'accepted';
    } catch (error) {
      return `${(error as { code: string }).code}: ${(error as Error).message}`;
    }
  };
  assert.match(code([]), /^bad_request: .*JSON object/);
  assert.match(code({ ...push, operation: 'peek' }), /^bad_request: .*operation/);
  assert.match(code({ ...push, type: 'x' }), /^bad_request: .*type/);
  assert.match(code({ ...push, operation: 'subscribe' }), /^bad_request: .*topics/);
  assert.match(code({ ...push, data: { headers: { exchange: 'e' }, body: 1 } }), /^bad_request: .*routing_key/);
  assert.match(code({ ...push, data: { headers: push.data.headers } }), /^bad_request: .*data\.body/);
  assert.match(code({ ...push, data: { ...push.data, headers: { exchange: '..', routing_key: 'q' } } }), /^invalid_name/);
});
