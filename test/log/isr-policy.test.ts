/** The leader's ISR decisions, without a disk or a coordinator. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deadNodeRegisteredAtMostMs, decideIsr, type FollowerProgress, type IsrView } from '../../src/log/isr-policy';

const NOW = 100_000;
const LAG = 4_000;
const SESSION = 4_000;
/** Past it a silent follower that is still registered must be alive (deadNodeRegisteredAtMostMs: 5 s). */
const DEAD_AFTER = 5_000;

function view(followers: Record<string, Partial<FollowerProgress>>, overrides: Partial<IsrView> = {}): IsrView {
  return {
    nodeId: 'a',
    isr: ['a', 'b', 'c'],
    replicas: ['a', 'b', 'c'],
    minIsr: 2,
    highWatermark: 50,
    epochStart: 10,
    leaderSince: NOW - 60_000,
    replicaLagMaxMs: LAG,
    sessionTimeoutMs: SESSION,
    followers: new Map(Object.entries(followers).map(([id, p]) => [id, { fetchOffset: 50, lastCaughtUpAt: NOW, lastFetchAt: NOW, ...p }])),
    isLive: () => true,
    ...overrides,
  };
}

test('followers that keep up keep the ISR as it is', () => {
  assert.deepEqual(decideIsr(view({ b: {}, c: {} }), NOW), { kind: 'keep' });
});

test('a follower behind for longer than the lag bound leaves; the ISR stays at or above min ISR', () => {
  const decision = decideIsr(view({ b: {}, c: { lastCaughtUpAt: NOW - LAG - 1, lastFetchAt: NOW } }), NOW);
  assert.deepEqual(decision, { kind: 'change', isr: ['a', 'b'] });
});

test('a registered, caught-up, fetching follower rejoins; an unregistered or stale one does not', () => {
  const base = { isr: ['a', 'b'] };
  assert.deepEqual(decideIsr(view({ b: {}, c: {} }, base), NOW), { kind: 'change', isr: ['a', 'b', 'c'] });
  assert.deepEqual(decideIsr(view({ b: {}, c: {} }, { ...base, isLive: (id) => id !== 'c' }), NOW), { kind: 'keep' });
  assert.deepEqual(decideIsr(view({ b: {}, c: { fetchOffset: 49 } }, base), NOW), { kind: 'keep' }, 'behind the high watermark');
  assert.deepEqual(decideIsr(view({ b: {}, c: { fetchOffset: 10 } }, { ...base, highWatermark: 10 }), NOW), { kind: 'keep' }, "not past this epoch's first entry");
  assert.deepEqual(decideIsr(view({ b: {}, c: { lastCaughtUpAt: NOW - LAG - 1 } }, base), NOW), { kind: 'keep' }, 'its last catch-up is old: it may be dead');
});

test('every follower registered but none fetching: the ISR stays while they may be dead; once they must be alive, the leader resigns to them', () => {
  const silentFor = (ms: number) => ({ lastCaughtUpAt: NOW - ms, lastFetchAt: NOW - ms });
  assert.deepEqual(decideIsr(view({ b: silentFor(LAG + 1), c: silentFor(LAG + 1) }), NOW), { kind: 'keep' }, 'their sessions may not have ended yet');
  assert.deepEqual(decideIsr(view({ b: silentFor(DEAD_AFTER + 1), c: silentFor(DEAD_AFTER + 1) }), NOW), { kind: 'resign', isr: ['b', 'c'] });
  assert.deepEqual(decideIsr(view({}, { leaderSince: NOW - DEAD_AFTER - 1 }), NOW), { kind: 'resign', isr: ['b', 'c'] }, 'never fetched in this epoch: counted from when it began to lead');
});

test('the leader shrinks the ISR to itself when the followers are dead, still fetching, or too few to commit without it', () => {
  const silent = { lastCaughtUpAt: NOW - DEAD_AFTER - 1, lastFetchAt: NOW - DEAD_AFTER - 1 };
  const alone = { kind: 'change', isr: ['a'] };
  assert.deepEqual(decideIsr(view({ b: silent, c: silent }, { isLive: (id) => id === 'a' }), NOW), alone, 'unregistered: dead, not cut off');
  assert.deepEqual(decideIsr(view({ b: silent, c: { ...silent, lastFetchAt: NOW } }), NOW), alone, 'c still reaches the leader (slow, not cut off)');
  assert.deepEqual(decideIsr(view({ b: silent }, { isr: ['a', 'b'] }), NOW), alone, 'b alone is below min ISR: it could not commit either');
});

test('a dead node may look registered for the session timeout and a quarter more, at least a second more', () => {
  assert.equal(deadNodeRegisteredAtMostMs(4_000), 5_000);
  assert.equal(deadNodeRegisteredAtMostMs(6_000), 7_500);
  assert.equal(deadNodeRegisteredAtMostMs(20_000), 25_000);
});
