/**
 * Unit tests for chaos/history.ts, the fault suite's history checker: hand-made histories,
 * no processes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkHistory, EpochTimeline, faultWindows, fullIsrAt, longestGap, type DeliveryRecord, type EpochSample, type History, type PublishRecord } from '../../chaos/history';

const INBOX = 'q/orders';

function published(seq: number, ackedAt: number | undefined, producer = 'p1', inbox = INBOX, partition = 0): PublishRecord {
  return { inbox, partition, producer, seq, id: `${producer}-${seq}`, firstSentAt: ackedAt ?? 0, attempts: 1, ackedAt, lastError: ackedAt === undefined ? '503 unavailable' : undefined };
}

function delivered(seq: number, at: number, options: Partial<DeliveryRecord> = {}): DeliveryRecord {
  const producer = options.id?.split('-')[0] ?? 'p1';
  return {
    inbox: INBOX,
    partition: 0,
    consumer: 'c1',
    mode: 'pull',
    id: `${producer}-${seq}`,
    payload: { producer, seq },
    deliveries: 1,
    at,
    leaseMs: 30_000,
    ackSentAt: at,
    ackResult: 'acked',
    ackAnsweredAt: at + 5,
    ...options,
  };
}

function sample(at: number, epoch: number, partition = 0, leader = 'node-1', isr = ['node-1', 'node-2', 'node-3']): EpochSample {
  return { at, partition, epoch, leader, isr, replicas: ['node-1', 'node-2', 'node-3'] };
}

function history(parts: Partial<History>): History {
  return {
    publishes: [],
    deliveries: [],
    samples: [sample(0, 1), sample(100_000, 1)],
    faults: [],
    inboxes: new Map([[INBOX, 0]]),
    loadStartedAt: 0,
    loadStoppedAt: 100_000,
    ...parts,
  };
}

test('a clean history: nothing lost, nothing unexpected, no duplicates', () => {
  const verdict = checkHistory(history({ publishes: [published(0, 10), published(1, 20)], deliveries: [delivered(0, 30), delivered(1, 40)] }));
  assert.equal(verdict.published, 2);
  assert.equal(verdict.acknowledged, 2);
  assert.equal(verdict.lost, 0);
  assert.equal(verdict.unexpected, 0);
  assert.equal(verdict.duplicates, 0);
  assert.equal(verdict.orderViolations, 0);
  assert.equal(verdict.doubleLeases, 0);
});

test('an acknowledged message never delivered is lost; an unacknowledged one is not', () => {
  const verdict = checkHistory(history({ publishes: [published(0, 10), published(1, undefined), published(2, 30)], deliveries: [delivered(0, 40)] }));
  assert.equal(verdict.lost, 1);
  assert.match(verdict.lostExamples[0]!.what, /never delivered/);
  assert.equal(verdict.lostExamples[0]!.id, 'p1-2');
  assert.equal(verdict.unacknowledged, 1);
});

test('an unacknowledged message that is delivered anyway is counted, not flagged', () => {
  const verdict = checkHistory(history({ publishes: [published(0, undefined)], deliveries: [delivered(0, 40)] }));
  assert.equal(verdict.unacknowledgedDelivered, 1);
  assert.equal(verdict.unexpected, 0);
});

test('a delivery nobody sent, or with another payload than the one sent, is unexpected', () => {
  const verdict = checkHistory(
    history({
      publishes: [published(0, 10)],
      deliveries: [delivered(0, 20, { payload: { producer: 'p1', seq: 7 } }), delivered(9, 30)],
    }),
  );
  assert.equal(verdict.unexpected, 2);
  assert.equal(verdict.lost, 1, 'the message with the wrong payload does not count as the one sent');
});

test('duplicates are explained by the ack of the earlier delivery', () => {
  const verdict = checkHistory(
    history({
      publishes: [published(0, 10), published(1, 10), published(2, 10), published(3, 10)],
      deliveries: [
        // ack answered unknown: the lease was gone
        delivered(0, 20, { ackResult: 'unknown' }),
        delivered(0, 60, { consumer: 'c2' }),
        // never acked (the consumer lost it)
        delivered(1, 20, { ackSentAt: undefined, ackResult: undefined, ackAnsweredAt: undefined }),
        delivered(1, 31_000, { consumer: 'c2' }),
        // delivered again while its ack was still in flight
        delivered(2, 20, { ackAnsweredAt: 500 }),
        delivered(2, 100, { consumer: 'c2', deliveries: 2 }),
        // acked, confirmed, then delivered again: unexplained
        delivered(3, 20),
        delivered(3, 200, { consumer: 'c2' }),
      ],
    }),
  );
  assert.equal(verdict.duplicates, 4);
  assert.deepEqual(verdict.duplicatesByReason, { ack_not_settled: 1, not_acked: 1, ack_in_flight: 1, unexplained: 1 });
  assert.equal(verdict.duplicateExamples[0]!.id, 'p1-3');
});

test('a message leased to two consumers at once in one epoch is a double lease; across an epoch change it is not', () => {
  const held = { ackSentAt: undefined, ackResult: undefined, ackAnsweredAt: undefined } as const;
  const sameEpoch = checkHistory(history({ publishes: [published(0, 10)], deliveries: [delivered(0, 20, held), delivered(0, 1_000, { consumer: 'c2' })] }));
  assert.equal(sameEpoch.doubleLeases, 1);
  const failover = checkHistory(
    history({
      publishes: [published(0, 10)],
      deliveries: [delivered(0, 20, held), delivered(0, 1_000, { consumer: 'c2' })],
      samples: [sample(0, 1), sample(500, 2, 0, 'node-2'), sample(100_000, 2, 0, 'node-2')],
    }),
  );
  assert.equal(failover.doubleLeases, 0);
  // After the lease ran out, another consumer may have it.
  const expired = checkHistory(history({ publishes: [published(0, 10)], deliveries: [delivered(0, 20, { ...held, leaseMs: 500 }), delivered(0, 1_000, { consumer: 'c2' })] }));
  assert.equal(expired.doubleLeases, 0);
  // Handed to another consumer before the broker answered the first one's ack with `acked`.
  const beforeSettled = checkHistory(history({ publishes: [published(0, 10)], deliveries: [delivered(0, 20, { ackAnsweredAt: 900 }), delivered(0, 600, { consumer: 'c2' })] }));
  assert.equal(beforeSettled.doubleLeases, 1);
  // The first one's ack was answered `unknown`: its lease had ended (a stream closed, say).
  const givenBack = checkHistory(history({ publishes: [published(0, 10)], deliveries: [delivered(0, 20, { ackResult: 'unknown', ackAnsweredAt: 900 }), delivered(0, 600, { consumer: 'c2' })] }));
  assert.equal(givenBack.doubleLeases, 0);
  // A failed ack leaves the lease with its consumer.
  const failedAck = checkHistory(history({ publishes: [published(0, 10)], deliveries: [delivered(0, 20, { ackResult: 'error', ackAnsweredAt: 100 }), delivered(0, 600, { consumer: 'c2' })] }));
  assert.equal(failedAck.doubleLeases, 1);
});

test('first deliveries out of publish order, per consumer and producer, in one epoch, are violations', () => {
  const verdict = checkHistory(
    history({
      publishes: [published(0, 10), published(1, 20), published(2, 30), published(0, 10, 'p2')],
      deliveries: [delivered(1, 40), delivered(2, 50), delivered(0, 60), delivered(0, 30, { id: 'p2-0', payload: { producer: 'p2', seq: 0 } })],
    }),
  );
  assert.equal(verdict.orderViolations, 1);
  assert.match(verdict.orderExamples[0]!.what, /seq 0 .* after seq 2/);
});

test('competing consumers each see increasing seqs: no violation', () => {
  const verdict = checkHistory(
    history({
      publishes: [published(0, 10), published(1, 20), published(2, 30), published(3, 40)],
      deliveries: [delivered(1, 50, { consumer: 'c2' }), delivered(0, 51), delivered(3, 52, { consumer: 'c2' }), delivered(2, 53)],
    }),
  );
  assert.equal(verdict.orderViolations, 0);
});

test('an inversion after a failover, or by a redelivery, is excused', () => {
  const afterFailover = checkHistory(
    history({
      publishes: [published(0, 10), published(1, 20)],
      deliveries: [delivered(1, 40), delivered(0, 700)],
      samples: [sample(0, 1), sample(500, 2, 0, 'node-2'), sample(100_000, 2, 0, 'node-2')],
    }),
  );
  assert.equal(afterFailover.orderViolations, 0);
  assert.equal(afterFailover.orderInversionsExcused, 1);
  const redelivered = checkHistory(history({ publishes: [published(0, 10), published(1, 20)], deliveries: [delivered(1, 40), delivered(0, 700, { deliveries: 2 })] }));
  assert.equal(redelivered.orderViolations, 0);
});

test('EpochTimeline: the epoch at a time, and whether one epoch held throughout', () => {
  const timeline = new EpochTimeline([sample(100, 1), sample(200, 1), sample(300, 2), sample(400, 2)]);
  assert.equal(timeline.epochAt(0, 50), 1);
  assert.equal(timeline.epochAt(0, 250), 1);
  assert.equal(timeline.epochAt(0, 350), 2);
  assert.equal(timeline.epochAt(9, 350), undefined);
  assert.equal(timeline.sameEpochThroughout(0, 100, 200), true);
  assert.equal(timeline.sameEpochThroughout(0, 150, 250), false, 'the sample after 250 names epoch 2');
  assert.equal(timeline.sameEpochThroughout(0, 310, 390), true);
  assert.equal(timeline.sameEpochThroughout(0, 310, 450), false, 'no sample after 450: unknown');
});

test('longestGap: between acknowledgments and at both edges', () => {
  assert.equal(longestGap([], 0, 1_000), 1_000);
  assert.equal(longestGap([100, 200, 900], 0, 1_000), 700);
  assert.equal(longestGap([500], 0, 600), 500);
  assert.equal(longestGap([5_000], 0, 1_000), 1_000, 'acks outside the interval do not count');
  assert.equal(longestGap([1, 2], 10, 10), 0);
});

test('faultWindows: the longest window per group, led vs followed partitions', () => {
  const publishes = [
    ...[0, 100, 4_100, 4_200].map((t, i) => published(i, 1_000 + t, 'a', 'q/led', 1)),
    ...[0, 100, 1_100, 4_200].map((t, i) => published(i, 1_000 + t, 'b', 'q/followed', 2)),
  ];
  const windows = faultWindows({
    publishes,
    inboxes: new Map([
      ['q/led', 1],
      ['q/followed', 2],
    ]),
    faults: [{ label: 'kill', victim: 'node-1', startedAt: 1_050, healedAt: 3_000, until: 5_200, led: [1], followed: [2] }],
  });
  assert.equal(windows.length, 1);
  assert.equal(windows[0]!.ledMs, 4_000);
  assert.equal(windows[0]!.ledInbox, 'q/led');
  assert.equal(windows[0]!.followedMs, 3_100);
  // A fault on no node: every partition is in `followed`.
  const everywhere = faultWindows({ publishes, inboxes: new Map([['q/led', 1]]), faults: [{ label: 'zk', victim: undefined, startedAt: 1_050, healedAt: 2_000, until: 5_200, led: [], followed: [] }] });
  assert.equal(everywhere[0]!.ledMs, undefined);
  assert.equal(everywhere[0]!.followedMs, 4_000);
});

test('fullIsrAt: the first sample after the last one that shows a short ISR', () => {
  const short = (at: number) => sample(at, 2, 0, 'node-2', ['node-2', 'node-3']);
  assert.equal(fullIsrAt([sample(100, 1), sample(200, 1)], 50), 50, 'never short after the heal');
  assert.equal(fullIsrAt([short(100), short(200), sample(300, 2), sample(400, 2)], 50), 300);
  assert.equal(fullIsrAt([short(100), sample(200, 2), short(300)], 50), undefined, 'still short at the last sample');
  assert.equal(fullIsrAt([short(10), sample(300, 2)], 100), 100, 'samples before the heal do not count');
  const leaderless = { ...sample(100, 2), leader: null };
  assert.equal(fullIsrAt([leaderless, sample(200, 2)], 0), 200);
});
