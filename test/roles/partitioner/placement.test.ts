import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PartitionState } from '../../../src/coordination/coordinator';
import { assignReplicas, decideLeadership, initialAssignment } from '../../../src/roles/partitioner/placement';

const clean = { uncleanElection: false };

function state(overrides: Partial<PartitionState>): PartitionState {
  return { partition: 0, replicas: ['a', 'b', 'c'], leader: 'a', leaderEpoch: 4, isr: ['a', 'b', 'c'], version: 7, ...overrides };
}

test('replicas are round-robin over sorted node ids, offset by the partition', () => {
  const nodes = ['n3', 'n1', 'n2', 'n4'];
  assert.deepEqual(assignReplicas(0, nodes, 3), ['n1', 'n2', 'n3']);
  assert.deepEqual(assignReplicas(1, nodes, 3), ['n2', 'n3', 'n4']);
  assert.deepEqual(assignReplicas(3, nodes, 3), ['n4', 'n1', 'n2']);
  assert.deepEqual(assignReplicas(5, nodes, 3), ['n2', 'n3', 'n4'], 'partition 5 wraps like partition 1');
  // Deterministic: the input order does not matter.
  assert.deepEqual(assignReplicas(2, ['n2', 'n4', 'n1', 'n3'], 3), assignReplicas(2, nodes, 3));
});

test('RF is capped by the live nodes, and never repeats a node', () => {
  assert.deepEqual(assignReplicas(0, ['b', 'a'], 3), ['a', 'b']);
  assert.deepEqual(assignReplicas(1, ['a'], 3), ['a']);
  assert.deepEqual(assignReplicas(0, ['a', 'a', 'b'], 3), ['a', 'b']);
  assert.deepEqual(assignReplicas(0, [], 3), []);
});

test('leaders and replicas spread evenly over the nodes', () => {
  const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'];
  const leaders = new Map<string, number>();
  const replicas = new Map<string, number>();
  for (let p = 0; p < 20; p++) {
    const assigned = assignReplicas(p, nodes, 3);
    assert.equal(new Set(assigned).size, 3);
    leaders.set(assigned[0]!, (leaders.get(assigned[0]!) ?? 0) + 1);
    for (const id of assigned) replicas.set(id, (replicas.get(id) ?? 0) + 1);
  }
  assert.deepEqual([...leaders.values()], [4, 4, 4, 4, 4]);
  assert.deepEqual([...replicas.values()], [12, 12, 12, 12, 12]);
});

test('a new partition: leader is the first replica, epoch 1, ISR = replicas', () => {
  assert.deepEqual(initialAssignment(1, ['a', 'b', 'c'], 2), { partition: 1, replicas: ['b', 'c'], leader: 'b', leaderEpoch: 1, isr: ['b', 'c'] });
  assert.equal(initialAssignment(0, [], 3), undefined);
});

test('a live leader whose ISR members are all registered is left alone, however small its ISR', () => {
  assert.equal(decideLeadership(state({ isr: ['a', 'b', 'c'] }), new Set(['a', 'b', 'c']), clean), undefined);
  assert.equal(decideLeadership(state({ isr: ['a'] }), new Set(['a', 'b', 'c']), clean), undefined);
});

test('a live leader keeps leading in its epoch while unregistered members leave its ISR (DESIGN §5)', () => {
  assert.deepEqual(decideLeadership(state({ isr: ['a', 'b', 'c'] }), new Set(['a', 'c']), clean), {
    change: 'isr_shrink',
    next: { partition: 0, replicas: ['a', 'b', 'c'], leader: 'a', leaderEpoch: 4, isr: ['a', 'c'] },
  });
  // Members outside the ISR are the leader's business: nothing to write for them.
  assert.equal(decideLeadership(state({ isr: ['a', 'c'] }), new Set(['a', 'c']), clean), undefined);
});

test('a dead leader is replaced by a live ISR member, epoch bumped, dead leader out of the ISR', () => {
  const decision = decideLeadership(state({ isr: ['a', 'c'] }), new Set(['b', 'c']), clean);
  // b is alive and first in replica order, but not in the ISR: c leads.
  assert.deepEqual(decision, {
    change: 'failover',
    next: { partition: 0, replicas: ['a', 'b', 'c'], leader: 'c', leaderEpoch: 5, isr: ['c'] },
  });
});

test('replica order picks among live ISR members', () => {
  const decision = decideLeadership(state({ replicas: ['a', 'c', 'b'], isr: ['b', 'a', 'c'] }), new Set(['b', 'c']), clean);
  assert.equal(decision?.next.leader, 'c');
  assert.deepEqual(decision?.next.isr, ['b', 'c'], 'only the dead leader leaves the ISR');
  const withAnotherGone = decideLeadership(state({ replicas: ['a', 'c', 'b'], isr: ['b', 'a', 'c'] }), new Set(['c']), clean);
  assert.deepEqual(withAnotherGone?.next.isr, ['c'], 'every member that is gone leaves the ISR with the dead leader');
});

test('no live ISR member: the partition goes offline, ISR kept, epoch bumped', () => {
  const decision = decideLeadership(state({ isr: ['a', 'b'] }), new Set(['c']), clean);
  assert.deepEqual(decision, {
    change: 'offline',
    next: { partition: 0, replicas: ['a', 'b', 'c'], leader: null, leaderEpoch: 5, isr: ['a', 'b'] },
  });
  // Already offline and still nobody from the ISR: nothing to write.
  assert.equal(decideLeadership(state({ leader: null, isr: ['a', 'b'] }), new Set(['c']), clean), undefined);
});

test('an ISR member coming back restores an offline partition', () => {
  const decision = decideLeadership(state({ leader: null, leaderEpoch: 5, isr: ['a', 'b'] }), new Set(['b', 'c']), clean);
  assert.deepEqual(decision, {
    change: 'restored',
    next: { partition: 0, replicas: ['a', 'b', 'c'], leader: 'b', leaderEpoch: 6, isr: ['a', 'b'] },
  });
});

test('all replicas dead: nothing but going offline once', () => {
  const offline = decideLeadership(state({}), new Set(['x']), { uncleanElection: true });
  assert.equal(offline?.change, 'offline');
  assert.equal(offline?.next.leader, null);
  assert.equal(decideLeadership(state({ leader: null }), new Set(['x']), { uncleanElection: true }), undefined);
});

test('unclean election only when configured: any live replica leads, ISR restarts from it', () => {
  const s = state({ isr: ['a'] });
  assert.equal(decideLeadership(s, new Set(['b', 'c']), clean)?.change, 'offline');
  assert.deepEqual(decideLeadership(s, new Set(['c', 'b']), { uncleanElection: true }), {
    change: 'unclean',
    next: { partition: 0, replicas: ['a', 'b', 'c'], leader: 'b', leaderEpoch: 5, isr: ['b'] },
  });
  // Offline partitions too, when an out-of-sync replica is the only one around.
  assert.equal(decideLeadership(state({ leader: null, isr: ['a'] }), new Set(['c']), { uncleanElection: true })?.next.leader, 'c');
});
