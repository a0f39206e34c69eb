/**
 * Input is refused rather than silently altered or fatal (issue 11 §3, DESIGN §8 "Payload"):
 * nesting past 100 levels is 400 (it was a 500 at ~4,100 levels); bytes that are not UTF-8,
 * and numbers that a double cannot hold (`1e400`, integers past 2^53) are 400; a content type
 * that is present and not JSON is 415 `unsupported_media_type`. On /v1, on a node's MOM-py
 * `POST /` and on the gateway's `POST /send`; nothing refused is stored.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startBroker } from '../helpers/broker';
import { adminApi, expectError, expectStatus, uniqueName } from '../helpers/http-api';

function nested(depth: number, inner: string = '1'): string {
  return `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`;
}

function nestedObject(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** A MOM-py push body with `body` spliced in as raw JSON text. */
function momPyPush(exchange: string, queue: string, body: string): string {
  return `{"operation":"push","type":"q","data":{"headers":{"exchange":"${exchange}","routing_key":"${queue}","message_date":"2024-05-01"},"body":${body}}}`;
}

describe('strict input', () => {
  it('deep nesting, bad UTF-8, inexact numbers and non-JSON content types are refused; nothing is stored', async (t) => {
    const broker = await startBroker(t);
    const admin = await adminApi(broker);
    const ex = uniqueName('strict');
    await admin.declareExchange(ex);
    await admin.declareQueue(ex, 'q');
    await admin.declareTopic(ex, 't');
    await admin.subscribe(ex, 't', 's');
    const q = `/v1/exchanges/${ex}/queues/q`;
    const sub = `/v1/exchanges/${ex}/topics/t/subscriptions/s`;

    // Nesting: the payload starts at level 2 of {"payload":…}, so 99 levels inside it are the most.
    const deepBodies: Array<[string, string, string]> = [
      ['POST', `${q}/messages`, `{"payload":${nested(4100)}}`],
      ['POST', `${q}/messages`, `{"payload":${nested(100)}}`],
      ['POST', `${q}/messages`, `{"payload":1,"headers":{"h":${nestedObject(4100)}}}`],
      ['POST', `${q}/messages`, `{"messages":[{"payload":${nestedObject(5000)}}]}`],
      ['POST', `/v1/exchanges/${ex}/topics/t/messages`, `{"payload":${nested(4100)}}`],
      ['PUT', `/v1/exchanges/${ex}/queues/deep`, `{"max_deliveries":${nested(4100)}}`],
      ['PUT', `/v1/exchanges/${ex}/topics/deep`, nestedObject(4100)],
      ['PUT', `${sub}2`, `{"from":${nested(4100, '"latest"')}}`],
      ['POST', `${q}/ack`, `{"ids":${nested(4100, '"x"')}}`],
      ['POST', '/', momPyPush(ex, 'q', nested(4100))],
      ['POST', '/send', momPyPush(ex, 'q', nested(4100))],
      ['POST', '/send', momPyPush(ex, 'q', nested(100))],
    ];
    for (const [method, path, raw] of deepBodies) {
      expectError(await admin.call(method, path, undefined, { raw }), 400, 'bad_request', `${method} ${path} nested ${raw.slice(0, 40)}…`);
    }
    const deepest = await admin.post(`${q}/messages`, undefined, { raw: `{"payload":${nested(99)},"headers":{"h":${nestedObject(98)}}}` });
    expectStatus(deepest, [201], 'a payload 99 levels deep and headers 98 levels deep (100 in the body)');
    const [stored] = await admin.pull(q);
    assert.equal(JSON.stringify(stored?.payload), nested(99), 'the deepest accepted payload comes back as sent');
    await admin.ack(q, [stored!.id]);

    // Invalid UTF-8 (a lone continuation byte, an overlong encoding, a surrogate): 400, not U+FFFD.
    const badBytes = [Buffer.from([0x80]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xff])];
    for (const bytes of badBytes) {
      const label = `bytes ${bytes.toString('hex')}`;
      const publish = Buffer.concat([Buffer.from('{"payload":"a'), bytes, Buffer.from('b"}')]);
      expectError(await admin.call('POST', `${q}/messages`, undefined, { raw: publish }), 400, 'bad_request', `publish with ${label}`);
      const header = Buffer.concat([Buffer.from('{"payload":1,"headers":{"k'), bytes, Buffer.from('":"v"}}')]);
      expectError(await admin.call('POST', `${q}/messages`, undefined, { raw: header }), 400, 'bad_request', `header name with ${label}`);
      const mompy = Buffer.concat([Buffer.from(momPyPush(ex, 'q', '"x').slice(0, -3)), bytes, Buffer.from('"}}')]);
      expectError(await admin.call('POST', '/send', undefined, { raw: mompy }), 400, 'bad_request', `/send with ${label}`);
      expectError(await admin.call('POST', '/', undefined, { raw: mompy }), 400, 'bad_request', `POST / with ${label}`);
    }
    // Valid UTF-8 of every length passes untouched.
    const text = 'aé€😀\u{10FFFF}';
    await admin.publish(q, [{ payload: text, headers: { [text]: text } }]);
    const [unicode] = await admin.pull(q);
    assert.equal(unicode?.payload, text);
    assert.deepEqual(unicode?.headers, { [text]: text });
    await admin.ack(q, [unicode!.id]);

    // Numbers: refused when a double would change them, kept exactly when it does not.
    for (const number of ['1e400', '-1e400', '9007199254740993', '12345678901234567890', '1e-400', '1.00000000000000000001']) {
      expectError(await admin.post(`${q}/messages`, undefined, { raw: `{"payload":${number}}` }), 400, 'bad_request', `payload ${number}`);
      expectError(await admin.post(`${q}/messages`, undefined, { raw: `{"payload":{"n":[${number}]}}` }), 400, 'bad_request', `nested payload ${number}`);
      expectError(await admin.post(`${q}/messages`, undefined, { raw: `{"payload":1,"headers":{"n":${number}}}` }), 400, 'bad_request', `header ${number}`);
      expectError(await admin.put(`/v1/exchanges/${ex}/queues/num`, undefined, { raw: `{"max_length":${number}}` }), 400, 'bad_request', `max_length ${number}`);
      expectError(await admin.post('/send', undefined, { raw: momPyPush(ex, 'q', number) }), 400, 'bad_request', `/send body ${number}`);
    }
    const exact = ['9007199254740991', '-9007199254740991', '1e300', '0.1', '1.5', '2.5e-8', '0.30000000000000004'];
    await admin.post(`${q}/messages`, undefined, { raw: `{"payload":[${exact.join(',')}]}` }).then((r) => expectStatus(r, [201], 'exact numbers'));
    const [numbers] = await admin.pull(q);
    assert.deepEqual(numbers?.payload, exact.map(Number));
    await admin.ack(q, [numbers!.id]);

    // Content types: JSON (any charset spelling of UTF-8, +json types) or none; anything else is 415.
    const notJson = ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/json; charset=iso-8859-1', 'application/octet-stream'];
    const routes: Array<[string, string, string]> = [
      ['POST', `${q}/messages`, '{"payload":"typed"}'],
      ['POST', `/v1/exchanges/${ex}/topics/t/messages`, '{"payload":"typed"}'],
      ['PUT', `/v1/exchanges/${ex}/queues/typed`, '{}'],
      ['PUT', `/v1/exchanges/${ex}/topics/typed`, '{}'],
      ['PUT', `${sub}-typed`, '{}'],
      ['PUT', `/v1/exchanges/${uniqueName('typed')}`, ''],
      ['POST', `${q}/ack`, '{"ids":["x"]}'],
      ['POST', `${q}/nack`, '{"ids":["x"]}'],
      ['POST', '/', momPyPush(ex, 'q', '"typed"')],
      ['POST', '/send', momPyPush(ex, 'q', '"typed"')],
    ];
    for (const [method, path, raw] of routes) {
      for (const type of notJson) {
        expectError(await admin.call(method, path, undefined, { raw, headers: { 'content-type': type } }), 415, 'unsupported_media_type', `${method} ${path} as ${type}`);
      }
    }
    for (const type of ['application/json', 'application/json; charset=utf-8', 'Application/JSON;charset="UTF-8"', 'application/vnd.mom+json']) {
      expectStatus(await admin.call('POST', `${q}/messages`, undefined, { raw: '{"payload":"typed ok"}', headers: { 'content-type': type } }), [201], `publish as ${type}`);
    }
    const untyped = await fetch(`${broker.url}${q}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.token}` },
      body: new TextEncoder().encode('{"payload":"no content type"}'),
    });
    assert.equal(untyped.status, 201, 'a body with no content type is taken as JSON');
    await untyped.arrayBuffer();
    // Logins keep taking what curl -d and fetch send by default.
    const login = await fetch(`${broker.url}/auth`, { method: 'POST', body: JSON.stringify({ user: 'admin', pass: broker.adminPassword }) });
    assert.equal(login.status, 200, 'POST /auth as text/plain');
    await login.arrayBuffer();
    const deepLogin = await fetch(`${broker.url}/auth`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"user":"admin","pass":"x","x":${nested(4100)}}` });
    assert.equal(deepLogin.status, 400, 'a deep login body is 400 too');
    await deepLogin.arrayBuffer();

    // Nothing refused was stored: only what was accepted above is in the queue.
    const left = await admin.drain(q);
    assert.deepEqual(left.map((m) => m.payload).sort(), ['no content type', 'typed ok', 'typed ok', 'typed ok', 'typed ok']);
    assert.deepEqual(await admin.drain(sub), []);
    expectError(await admin.get(`/v1/exchanges/${ex}/queues/deep`), 404, 'queue_not_found', 'the deep declare created nothing');
    expectError(await admin.get(`/v1/exchanges/${ex}/queues/typed`), 404, 'queue_not_found', 'the text/plain declare created nothing');
  });
});
