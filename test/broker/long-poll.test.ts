/**
 * DESIGN §2/§8 long polling: a pull with `wait_ms` answers as soon as a message arrives (not at
 * the end of the wait), answers an empty list once the wait is over, and a message goes to one
 * waiting consumer only.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { startBroker } from '../helpers/broker';
import { waitFor } from '../helpers/wait';
import { adminApi, uniqueName, type Api } from '../helpers/http-api';

/**
 * How long to let a long poll reach the broker and start waiting before publishing. Were it
 * slower, the poll would find the message at once: the assertions hold either way.
 */
const LET_POLL_ARRIVE_MS = 300;

async function setup(t: TestContext): Promise<{ api: Api; exchange: string; queue: string }> {
  const broker = await startBroker(t);
  const api = await adminApi(broker);
  const exchange = uniqueName('poll');
  await api.declareExchange(exchange);
  await api.declareQueue(exchange, 'q');
  return { api, exchange, queue: `/v1/exchanges/${exchange}/queues/q` };
}

test('a long poll answers as soon as a message is published', async (t) => {
  const { api, exchange, queue } = await setup(t);
  const poll = api.get(`${queue}/messages?wait_ms=10000&max=10`);
  await delay(LET_POLL_ARRIVE_MS);
  const [id] = await api.publish(queue, [{ payload: { hello: 'poll' } }]);
  const answer = await poll;
  assert.equal(answer.status, 200);
  assert.ok(answer.ms < 3_000, `answered after ${Math.round(answer.ms)} ms, not at the end of wait_ms=10000`);
  assert.ok(answer.ms >= LET_POLL_ARRIVE_MS - 5, `it did wait for the message (${Math.round(answer.ms)} ms)`);
  assert.equal(answer.body.messages.length, 1, 'max=10 does not wait to fill the batch');
  assert.equal(answer.body.messages[0].id, id);
  assert.deepEqual(answer.body.messages[0].payload, { hello: 'poll' });

  // The same on a subscription, woken by a topic publish.
  await api.declareTopic(exchange, 't');
  await api.subscribe(exchange, 't', 's');
  const subscription = `/v1/exchanges/${exchange}/topics/t/subscriptions/s`;
  const subPoll = api.get(`${subscription}/messages?wait_ms=10000`);
  await delay(LET_POLL_ARRIVE_MS);
  const [topicId] = await api.publish(`/v1/exchanges/${exchange}/topics/t`, [{ payload: 'to the topic' }]);
  const subAnswer = await subPoll;
  assert.equal(subAnswer.status, 200);
  assert.ok(subAnswer.ms < 3_000, `subscription poll answered after ${Math.round(subAnswer.ms)} ms`);
  assert.deepEqual(subAnswer.body.messages.map((m: { id: string }) => m.id), [topicId]);

  // A nack (requeue) wakes a waiting poll too.
  const redeliveryPoll = api.get(`${queue}/messages?wait_ms=10000`);
  await delay(LET_POLL_ARRIVE_MS);
  await api.nack(queue, [id!], true);
  const redelivered = await redeliveryPoll;
  assert.ok(redelivered.ms < 3_000, `nack woke the poll after ${Math.round(redelivered.ms)} ms`);
  assert.equal(redelivered.body.messages[0]?.id, id);
  assert.equal(redelivered.body.messages[0]?.deliveries, 2);
});

test('a long poll with nothing to deliver answers an empty list after wait_ms', async (t) => {
  const { api, queue } = await setup(t);
  for (const waitMs of [300, 700]) {
    const answer = await api.get(`${queue}/messages?wait_ms=${waitMs}`);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, { messages: [] });
    assert.ok(answer.ms >= waitMs - 5, `wait_ms=${waitMs} answered after only ${Math.round(answer.ms)} ms`);
    assert.ok(answer.ms < waitMs + 2_000, `wait_ms=${waitMs} answered after ${Math.round(answer.ms)} ms`);
  }
  // wait_ms=0 (the default) answers at once.
  const now = await api.get(`${queue}/messages`);
  assert.deepEqual(now.body, { messages: [] });
  assert.ok(now.ms < 1_000);
});

test('one message wakes one of several waiting polls; the others keep waiting', async (t) => {
  const { api, queue } = await setup(t);
  const polls = [0, 1, 2].map(() => api.get(`${queue}/messages?wait_ms=8000&lease_ms=60000`));
  const settled = polls.map(() => false);
  polls.forEach((poll, i) => void poll.then(() => (settled[i] = true)));
  await delay(LET_POLL_ARRIVE_MS);

  const ids: string[] = [];
  for (let round = 1; round <= 3; round++) {
    ids.push(...(await api.publish(queue, [{ payload: round }])));
    // Exactly `round` polls answer, each with a different message.
    await waitFor(`${round} polls to answer`, () => settled.filter(Boolean).length >= round, { timeoutMs: 3_000, intervalMs: 10, retryErrors: true });
    assert.equal(settled.filter(Boolean).length, round, `after ${round} publishes, ${round} polls answered`);
  }
  const answers = await Promise.all(polls);
  const delivered = answers.map((a) => {
    assert.equal(a.status, 200);
    assert.equal(a.body.messages.length, 1);
    assert.ok(a.ms < 6_000, 'answered by a publish, not by the end of the wait');
    return a.body.messages[0].id as string;
  });
  assert.deepEqual([...delivered].sort(), [...ids].sort(), 'each message to exactly one poll');
});

test('a poll abandoned by its client does not take a message published later', async (t) => {
  const { api, queue } = await setup(t);
  const abort = new AbortController();
  const poll = api.get(`${queue}/messages?wait_ms=10000`, { signal: abort.signal });
  await delay(LET_POLL_ARRIVE_MS);
  abort.abort();
  await assert.rejects(poll);
  // Let the broker see the closed connection before publishing.
  await delay(100);
  const [id] = await api.publish(queue, [{ payload: 'for a live consumer' }]);
  const answer = await api.get(`${queue}/messages?wait_ms=2000`);
  assert.equal(answer.body.messages[0]?.id, id, 'the message was not leased to the abandoned poll');
  assert.equal(answer.body.messages[0]?.deliveries, 1);
  assert.ok(answer.ms < 1_000);
});
