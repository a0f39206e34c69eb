import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CpuMeter, cpuMicrosPerMessage } from '../../src/loadgen/cpu-meter';

test('CPU per message is CPU seconds over messages, in µs', () => {
  assert.equal(cpuMicrosPerMessage(0.68, 2_000), 340, 'the leader at 0.68 of a core and 2,000 msg/s: 340 µs each');
  assert.equal(cpuMicrosPerMessage(4.3, 100_000), 43);
  assert.equal(cpuMicrosPerMessage(0, 10), 0);
});

test('CPU per message is undefined without messages or with a bad CPU figure', () => {
  assert.equal(cpuMicrosPerMessage(1, 0), undefined);
  assert.equal(cpuMicrosPerMessage(Number.NaN, 10), undefined);
  assert.equal(cpuMicrosPerMessage(-1, 10), undefined);
});

test('the meter reads the CPU of the PIDs it is given from /proc (elsewhere than Linux: no figures)', async () => {
  const meter = new CpuMeter(() => [process.pid]);
  meter.begin();
  const until = Date.now() + 150;
  while (Date.now() < until) Math.sqrt(Math.random()); // busy: this process is the "broker"
  const share = meter.end();
  if (process.platform !== 'linux') {
    assert.equal(share, undefined, 'without /proc the figures are absent, not made up');
    return;
  }
  assert.ok(share !== undefined);
  assert.ok(share.brokerSeconds > 0, `brokerSeconds ${share.brokerSeconds}`);
  assert.ok(share.broker > 0.2, `about one core busy, got ${share.broker}`);
});
