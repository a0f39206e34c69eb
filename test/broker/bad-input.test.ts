/**
 * DESIGN §8 error answers: malformed or out-of-range input is refused with the fitting status
 * and `{"error":{"code","message"}}`, and none of it disturbs stored messages or other clients.
 * A client that never finishes its request headers is cut off by the header timeout.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { startBroker, type RunningBroker } from '../helpers/broker';
import { adminApi, addUser, expectError, uniqueName, type ApiResponse } from '../helpers/http-api';

const MIB = 1024 * 1024;

/** A request sent exactly as written (no client-side URL normalization), for dot segments. */
function rawRequest(url: string, method: string, path: string, token: string): Promise<ApiResponse> {
  const { hostname, port } = new URL(url);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, method, path, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body, text, headers: new Headers(res.headers as Record<string, string>), ms: performance.now() - started });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** A JSON publish body of exactly `size` bytes. */
function publishBodyOfSize(size: number): string {
  const frame = '{"payload":""}';
  return `{"payload":"${'x'.repeat(size - frame.length)}"}`;
}

async function checkAnotherClient(broker: RunningBroker, ex: string): Promise<void> {
  const bob = await addUser(broker, uniqueName('bob'), 'bob-password', [{ exchange: ex, allow: ['publish', 'consume'] }]);
  const q = `/v1/exchanges/${ex}/queues/q`;
  const [id] = await bob.publish(q, [{ payload: 'from bob' }]);
  const [message] = await bob.pull(q);
  assert.equal(message?.id, id);
  assert.deepEqual(await bob.ack(q, [id!]), { acked: 1, unknown: [] });
}

// The slow-client test mostly waits for the header timeout: it runs beside the other one.
describe('bad input', { concurrency: 2 }, () => {
  it('bad input is refused with the right status and code, and harms nothing', async (t) => {
    const broker = await startBroker(t);
    const admin = await adminApi(broker);
    const ex = uniqueName('bad');
    await admin.declareExchange(ex);
    await admin.declareQueue(ex, 'q');
    await admin.declareQueue(ex, 'big');
    await admin.declareTopic(ex, 't');
    await admin.subscribe(ex, 't', 's');
    const base = `/v1/exchanges/${ex}`;
    const q = `${base}/queues/q`;
    const sub = `${base}/topics/t/subscriptions/s`;
    const keptIds = await admin.publish(q, Array.from({ length: 5 }, (_, i) => ({ payload: { kept: i }, headers: { n: String(i) } })));
    const keptTopicIds = await admin.publish(`${base}/topics/t`, [{ payload: 'topic kept' }]);

    // Malformed JSON.
    for (const [method, path] of [
      ['POST', `${q}/messages`],
      ['PUT', `${base}/queues/new-q`],
      ['PUT', `${base}/topics/new-t`],
      ['PUT', `${base}/topics/t/subscriptions/new-s`],
      ['POST', `${q}/ack`],
      ['POST', `${q}/nack`],
      ['POST', `${sub}/ack`],
      ['POST', '/'],
      ['POST', '/send'],
      ['POST', '/auth'],
    ] as const) {
      for (const raw of ['{"payload":', 'not json', '{"a":1}}', '\u0000']) {
        expectError(await admin.call(method, path, undefined, { raw }), 400, 'bad_request', `${method} ${path} with ${JSON.stringify(raw)}`);
      }
    }
    // Well-formed JSON of the wrong shape.
    const wrongShapes: Array<[string, string, unknown]> = [
      ['POST', `${q}/messages`, [{ payload: 1 }]],
      ['POST', `${q}/messages`, 'payload'],
      ['POST', `${q}/messages`, {}],
      ['POST', `${q}/messages`, { payload: 1, extra: true }],
      ['POST', `${q}/messages`, { payload: 1, id: '' }],
      ['POST', `${q}/messages`, { payload: 1, id: 42 }],
      ['POST', `${q}/messages`, { payload: 1, id: 'x'.repeat(257) }],
      ['POST', `${q}/messages`, { payload: 1, headers: ['a'] }],
      ['POST', `${q}/messages`, { messages: [] }],
      ['POST', `${q}/messages`, { messages: 'x' }],
      ['POST', `${q}/messages`, { messages: [{ payload: 1 }, { nopayload: 2 }] }],
      ['POST', `${q}/messages`, { messages: [{ payload: 1 }], payload: 2 }],
      ['POST', `${q}/ack`, { ids: 'x' }],
      ['POST', `${q}/ack`, { ids: [1, 2] }],
      ['POST', `${q}/ack`, {}],
      ['POST', `${q}/ack`, { ids: [], requeue: true }],
      ['POST', `${q}/nack`, { ids: [], requeue: 'yes' }],
      ['PUT', `${base}/queues/q2`, { max_deliveries: -1 }],
      ['PUT', `${base}/queues/q2`, { max_deliveries: 1.5 }],
      ['PUT', `${base}/queues/q2`, { message_ttl_ms: 0 }],
      ['PUT', `${base}/queues/q2`, { colour: 'red' }],
      ['PUT', `${base}/queues/q2`, [1]],
      ['PUT', `${base}/topics/t2`, { retention_ms: '1d' }],
      ['PUT', `${base}/topics/t/subscriptions/s2`, { from: 'middle' }],
      ['POST', '/', { operation: 'shout', type: 'q', data: { headers: { exchange: ex, routing_key: 'q' } } }],
      ['POST', '/send', { operation: 'push', type: 'x', data: { headers: { exchange: ex, routing_key: 'q' }, body: 1 } }],
      ['POST', '/send', { operation: 'push', type: 'q', data: { headers: { exchange: ex, routing_key: 'q' } } }],
    ];
    for (const [method, path, body] of wrongShapes) {
      expectError(await admin.call(method, path, body), 400, 'bad_request', `${method} ${path} with ${JSON.stringify(body).slice(0, 60)}`);
    }

    // Body limit: 1 MiB on the request body, declared or streamed.
    const atLimit = await admin.post(`${base}/queues/big/messages`, undefined, { raw: publishBodyOfSize(MIB) });
    assert.equal(atLimit.status, 201, `a body of exactly 1 MiB is accepted: ${atLimit.text.slice(0, 200)}`);
    expectError(await admin.post(`${q}/messages`, undefined, { raw: publishBodyOfSize(MIB + 1) }), 413, 'payload_too_large', 'publish of 1 MiB + 1');
    expectError(
      await admin.post(`${q}/messages`, { messages: Array.from({ length: 500 }, () => ({ payload: 'y'.repeat(4096) })) }),
      413,
      'payload_too_large',
      'a batch over 1 MiB',
    );
    const chunks = 20;
    const streamed = await fetch(`${broker.url}${q}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
      body: new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"payload":"'));
          for (let i = 0; i < chunks; i++) controller.enqueue(new Uint8Array(MIB / 10).fill(0x7a));
          controller.enqueue(new TextEncoder().encode('"}'));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    const streamedBody = (await streamed.json()) as { error: { code: string } };
    assert.equal(streamed.status, 413, 'a chunked body over 1 MiB');
    assert.equal(streamedBody.error.code, 'payload_too_large');
    expectError(
      await admin.post('/send', undefined, { raw: JSON.stringify({ operation: 'push', type: 'q', data: { headers: { exchange: ex, routing_key: 'q' }, body: 'z'.repeat(MIB) } }) }),
      413,
      'payload_too_large',
      'MOM-py push over 1 MiB',
    );

    // Names: [A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}.
    const badNames = ['.hidden', '..x', 'a%2Fb', 'a%20b', 'caf%C3%A9', 'x'.repeat(129), 'semi%3Bcolon', 'a%00b'];
    for (const name of badNames) {
      const label = `name ${name.slice(0, 20)}`;
      expectError(await admin.put(`/v1/exchanges/${name}`), 400, 'invalid_name', `${label} as exchange`);
      expectError(await admin.put(`${base}/queues/${name}`), 400, 'invalid_name', `${label} as queue`);
      expectError(await admin.put(`${base}/topics/${name}`), 400, 'invalid_name', `${label} as topic`);
      expectError(await admin.put(`${base}/topics/t/subscriptions/${name}`), 400, 'invalid_name', `${label} as subscription`);
      expectError(await admin.post(`${base}/queues/${name}/messages`, { payload: 1 }), 400, 'invalid_name', `${label} in a publish`);
      expectError(await admin.get(`${base}/queues/${name}/messages`), 400, 'invalid_name', `${label} in a pull`);
    }
    const longest = 'n'.repeat(128);
    assert.equal((await admin.put(`${base}/queues/${longest}`)).status, 201, 'a 128-character name is valid');
    assert.equal((await admin.put(`${base}/queues/Q.9_-x`)).status, 201, 'dots, digits, _ and - inside a name are valid');
    expectError(
      await admin.post('/send', { operation: 'push', type: 'q', data: { headers: { exchange: ex, routing_key: '..' }, body: 1 } }),
      400,
      'invalid_name',
      'MOM-py routing_key ".."',
    );
    // "." and ".." sent as they are (fetch would resolve them): they are names, and invalid ones,
    // never dot segments that lead to another route (DELETE .../queues/.. is not the exchange).
    const dotPaths: Array<[string, string, number, string]> = [
      ['DELETE', `${base}/queues/..?force=true`, 400, 'invalid_name'],
      ['DELETE', `${base}/queues/%2e%2e?force=true`, 400, 'invalid_name'],
      ['PUT', `${base}/queues/..`, 400, 'invalid_name'],
      ['PUT', `${base}/queues/.`, 400, 'invalid_name'],
      ['DELETE', `${base}/topics/t/subscriptions/..`, 400, 'invalid_name'],
      ['PUT', '/v1/exchanges/..', 400, 'invalid_name'],
      ['PUT', '/v1/exchanges/.', 400, 'invalid_name'],
      ['POST', `${base}/queues/../messages`, 400, 'invalid_name'],
      ['GET', `${base}/queues/q/..`, 404, 'not_found'],
      ['DELETE', `${base}/queues/q/../..?force=true`, 404, 'not_found'],
    ];
    for (const [method, path, status, code] of dotPaths) {
      expectError(await rawRequest(broker.url, method, path, admin.token!), status, code, `${method} ${path} sent as is`);
    }
    assert.ok((await admin.get('/v1/exchanges')).body.exchanges.some((e: { name: string }) => e.name === ex), 'the exchange still exists');

    // Unknown things: 404 with a precise code.
    const missing = `${base}/queues/missing`;
    expectError(await admin.post(`${missing}/messages`, { payload: 1 }), 404, 'queue_not_found', 'publish to an unknown queue');
    expectError(await admin.get(`${missing}/messages`), 404, 'queue_not_found', 'pull from an unknown queue');
    expectError(await admin.post(`${missing}/ack`, { ids: ['a'] }), 404, 'queue_not_found', 'ack on an unknown queue');
    expectError(await admin.post(`${missing}/nack`, { ids: ['a'] }), 404, 'queue_not_found', 'nack on an unknown queue');
    expectError(await admin.get(missing), 404, 'queue_not_found', 'stats of an unknown queue');
    expectError(await admin.get(`${missing}/dead-letters`), 404, 'queue_not_found', 'dead letters of an unknown queue');
    expectError(await admin.delete(missing), 404, 'queue_not_found', 'delete an unknown queue');
    expectError(await admin.post(`${base}/topics/missing/messages`, { payload: 1 }), 404, 'topic_not_found', 'publish to an unknown topic');
    expectError(await admin.put(`${base}/topics/missing/subscriptions/s`), 404, 'topic_not_found', 'subscribe to an unknown topic');
    expectError(await admin.get(`${base}/topics/t/subscriptions/missing/messages`), 404, 'subscription_not_found', 'pull from an unknown subscription');
    const nowhere = uniqueName('nowhere');
    expectError(await admin.put(`/v1/exchanges/${nowhere}/queues/q`), 404, 'exchange_not_found', 'queue in an undeclared exchange');
    expectError(await admin.put(`/v1/exchanges/${nowhere}/topics/t`), 404, 'exchange_not_found', 'topic in an undeclared exchange');
    expectError(await admin.delete(`/v1/exchanges/${nowhere}`), 404, 'exchange_not_found', 'delete an undeclared exchange');
    expectError(await admin.post(`/v1/exchanges/${nowhere}/queues/q/messages`, { payload: 1 }), 404, 'queue_not_found', 'publish into an undeclared exchange');
    expectError(await admin.get('/v1/nothing-here'), 404, 'not_found', 'unknown route');
    expectError(await admin.get('/nothing-at-all'), 404, 'not_found', 'unknown root route');
    // A known path under another method: 405 with Allow (DESIGN §8), whichever router has the path.
    const wrongMethods: Array<[string, string, string]> = [
      ['POST', q, 'DELETE, GET, PUT'],
      ['PATCH', q, 'DELETE, GET, PUT'],
      ['DELETE', `${q}/messages`, 'GET, POST'],
      ['GET', `${q}/ack`, 'POST'],
      ['PUT', `${q}/purge`, 'POST'],
      ['POST', `${q}/dead-letters`, 'DELETE, GET'],
      ['GET', `${q}/dead-letters/redrive`, 'POST'],
      ['POST', `${base}/queues`, 'GET'],
      ['DELETE', `${base}/topics`, 'GET'],
      ['POST', '/v1/exchanges', 'GET'],
      ['GET', '/auth', 'POST'],
      ['POST', '/health', 'GET'],
      ['GET', '/', 'POST'],
    ];
    for (const [method, path, allow] of wrongMethods) {
      const answer = await admin.call(method, path, method === 'GET' ? undefined : {});
      expectError(answer, 405, 'method_not_allowed', `${method} ${path}`);
      assert.equal(answer.headers.get('allow'), allow, `${method} ${path}: Allow`);
    }

    // Query parameters: integers within bounds, or 400.
    const badQueries = [
      'max=0', 'max=1001', 'max=1.5', 'max=abc', 'max=-1', 'max=', 'max=1e3', 'max=0x10', 'max=99999999999999999999',
      'wait_ms=-1', 'wait_ms=30001', 'wait_ms=1.5', 'wait_ms=soon',
      'lease_ms=99', 'lease_ms=43200001', 'lease_ms=1.5', 'lease_ms=0',
    ];
    for (const query of badQueries) {
      expectError(await admin.get(`${q}/messages?${query}`), 400, 'bad_request', `queue pull ?${query}`);
      expectError(await admin.get(`${sub}/messages?${query}`), 400, 'bad_request', `subscription pull ?${query}`);
    }
    expectError(await admin.post(`${q}/messages?acks=some`, { payload: 1 }), 400, 'bad_request', 'publish ?acks=some');
    expectError(await admin.get(`${q}/dead-letters?max=0`), 400, 'bad_request', 'dead letters ?max=0');
    expectError(await admin.delete(`/v1/exchanges/${ex}?force=maybe`), 400, 'bad_request', 'delete ?force=maybe');
    for (const query of ['max=1000&wait_ms=0&lease_ms=100', 'lease_ms=43200000', 'wait_ms=0', 'max=1000']) {
      const answer = await admin.get(`${base}/queues/big/messages?${query}`);
      assert.equal(answer.status, 200, `bounds are inclusive: ?${query}`);
      if (answer.body.messages.length > 0) await admin.ack(`${base}/queues/big`, answer.body.messages.map((m: { id: string }) => m.id));
    }

    // At most 1000 messages per publish.
    expectError(
      await admin.post(`${base}/queues/big/messages`, { messages: Array.from({ length: 1001 }, (_, i) => ({ payload: i })) }),
      400,
      'bad_request',
      '1001 messages in one publish',
    );
    const thousand = await admin.post(`${base}/queues/big/messages`, { messages: Array.from({ length: 1000 }, (_, i) => ({ payload: i })) });
    assert.equal(thousand.status, 201);
    assert.equal(thousand.body.ids.length, 1000);

    // Redeclaring: 200 with the same options, 409 conflict with others.
    assert.equal((await admin.put(`${base}/queues/opt`, { max_deliveries: 3 })).status, 201);
    assert.equal((await admin.put(`${base}/queues/opt`, { max_deliveries: 3 })).status, 200);
    expectError(await admin.put(`${base}/queues/opt`, { max_deliveries: 4 }), 409, 'conflict', 'queue with other options');
    expectError(await admin.put(`${base}/queues/opt`), 409, 'conflict', 'queue redeclared with default options');
    assert.equal((await admin.put(`${base}/queues/q`)).status, 200, 'the body is optional');
    assert.equal((await admin.put(`${base}/topics/ret`, { retention_ms: 60_000 })).status, 201);
    assert.equal((await admin.put(`${base}/topics/ret`, { retention_ms: 60_000 })).status, 200);
    expectError(await admin.put(`${base}/topics/ret`, { retention_ms: 120_000 }), 409, 'conflict', 'topic with other retention');
    assert.equal((await admin.put(base)).status, 200, 'an exchange redeclared');
    expectError(await admin.delete(base), 409, 'conflict', 'delete a non-empty exchange without force');

    // After all that: the stored messages are intact, and another client is served as usual.
    const kept = await admin.drain(q);
    assert.deepEqual(kept.map((m) => m.id), keptIds);
    assert.deepEqual(kept.map((m) => m.payload), [0, 1, 2, 3, 4].map((i) => ({ kept: i })));
    assert.deepEqual(kept.map((m) => m.headers), [0, 1, 2, 3, 4].map((i) => ({ n: String(i) })));
    assert.ok(kept.every((m) => m.deliveries === 1), 'no bad request leased or settled them');
    assert.deepEqual((await admin.drain(sub)).map((m) => m.id), keptTopicIds);
    await checkAnotherClient(broker, ex);
  });

  it('a client that never finishes its headers is cut off; others are served meanwhile', { timeout: 60_000 }, async (t) => {
    const broker = await startBroker(t);
    const admin = await adminApi(broker);
    const ex = uniqueName('slow');
    await admin.declareExchange(ex);
    await admin.declareQueue(ex, 'q');
    const { hostname, port } = new URL(broker.url);

    const slowClients = 10;
    const opened = performance.now();
    const closedAfter = Array.from({ length: slowClients }, (_, i) => {
      const socket = connect(Number(port), hostname);
      t.after(() => socket.destroy());
      socket.on('error', () => {});
      socket.on('connect', () => socket.write(i % 2 === 0 ? 'GET /v1/exchan' : `POST /v1/exchanges/${ex}/queues/q/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/j`));
      socket.resume();
      return new Promise<number>((resolve) => socket.on('close', () => resolve(performance.now() - opened)));
    });
    let allClosed = false;
    const closing = Promise.all(closedAfter).then((times) => {
      allClosed = true;
      return times;
    });

    // Served as usual while the slow sockets hang around (bounded: until they close or 20 s).
    const q = `/v1/exchanges/${ex}/queues/q`;
    let rounds = 0;
    const servingDeadline = performance.now() + 20_000;
    while (!allClosed && performance.now() < servingDeadline) {
      const started = performance.now();
      const [id] = await admin.publish(q, [{ payload: rounds }]);
      const [message] = await admin.pull(q);
      assert.equal(message?.id, id);
      await admin.ack(q, [id!]);
      assert.ok(performance.now() - started < 2_000, `round ${rounds} took ${Math.round(performance.now() - started)} ms`);
      rounds++;
      await Promise.race([delay(250), closing]);
    }
    assert.ok(allClosed, 'every slow client was disconnected within 20 s');
    const times = await closing;
    const slowest = Math.max(...times);
    t.diagnostic(`slow clients closed after ${Math.round(Math.min(...times))}-${Math.round(slowest)} ms; ${rounds} normal rounds served meanwhile`);
    assert.ok(slowest <= 15_000, `the header timeout (10 s) cut the slow clients off within 15 s, took ${Math.round(slowest)} ms`);
    assert.ok(Math.min(...times) >= 9_000, 'not before the header timeout');
    assert.ok(rounds >= 5, 'normal clients were served meanwhile');
    await checkAnotherClient(broker, ex);
  });
});
