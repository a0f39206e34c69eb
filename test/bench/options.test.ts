import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBenchArgs, UsageError } from '../../bench/options';

test('defaults: the peers\' latency shape, no peers unless asked', () => {
  const options = parseBenchArgs([]);
  assert.ok(options !== 'help');
  assert.equal(options.peers, false);
  assert.equal(options.rate, 2_000);
  assert.equal(options.maxUnconfirmed, 500);
  assert.equal(options.latencyConsumers, 1);
  assert.equal(options.pullMax, 100);
  assert.equal(options.payloadBytes, 1024);
  assert.equal(options.runs, 3);
});

test('--peers alone and with --cluster 3', () => {
  const single = parseBenchArgs(['--peers', '--quick']);
  assert.ok(single !== 'help');
  assert.equal(single.peers, true);
  assert.equal(single.cluster, 0);
  assert.equal(single.runs, 1);
  const cluster = parseBenchArgs(['--peers', '--cluster', '3']);
  assert.ok(cluster !== 'help');
  assert.equal(cluster.peers, true);
  assert.equal(cluster.cluster, 3);
});

test('bad values are refused with the flag named', () => {
  assert.throws(() => parseBenchArgs(['--max-unconfirmed', '0']), (error: unknown) => error instanceof UsageError && /--max-unconfirmed: expected an integer within 1\.\.100000, got "0"/.test(error.message));
  assert.throws(() => parseBenchArgs(['--cluster', '1']), /--cluster: a cluster needs at least 2 nodes/);
  assert.throws(() => parseBenchArgs(['--only', 'everything']), /--only: expected throughput or latency/);
});
