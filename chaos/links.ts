/**
 * Delay and loss on every packet between two nodes (scenario 7), like
 * `tc qdisc add dev eth0 root netem delay 100ms 50ms loss 5%` on each node but only for the
 * traffic to the other nodes. When the kernel has sch_netem, that is what it uses (with
 * loss, on the node's interface, so ZooKeeper's and the gateway's traffic is slowed too).
 * Kernels built without it (as the 2-core development VM's) get the same effect from the
 * packet filter: in each node's namespace, iptables drops a random 5 % of the packets to the
 * other nodes (`-m statistic`) and queues the rest to chaos/netdelay.py (`-j NFQUEUE`), which
 * holds each one delay ± jitter before letting it go.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { registerUndo, tryRun } from './cleanup';
import type { Lab } from './lab';
import { killQuietly, REPO_ROOT } from './process';

export interface LinkDegradation {
  delayMs: number;
  jitterMs: number;
  lossPercent: number;
}

export interface Degraded {
  /** `tc netem`, or `iptables statistic + NFQUEUE delayer`. */
  method: string;
  undo: () => void;
}

const QUEUE = 7;
const DELAYER = join(REPO_ROOT, 'chaos', 'netdelay.py');

export async function degradeNodeLinks(lab: Lab, nodeIds: readonly string[], degradation: LinkDegradation): Promise<Degraded> {
  const { delayMs, jitterMs, lossPercent } = degradation;
  const first = nodeIds[0]!;
  const prefix = (id: string) => lab.prefix(id);
  const netem = tryRun(prefix(first)[0]!, [...prefix(first).slice(1), 'tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'netem', 'delay', `${delayMs}ms`, `${jitterMs}ms`, 'loss', `${lossPercent}%`]);
  if (netem) {
    for (const id of nodeIds.slice(1)) lab.exec(id, 'tc', ['qdisc', 'add', 'dev', 'eth0', 'root', 'netem', 'delay', `${delayMs}ms`, `${jitterMs}ms`, 'loss', `${lossPercent}%`]);
    const undo = registerUndo('tc netem on the nodes', () => {
      for (const id of nodeIds) tryRun(prefix(id)[0]!, [...prefix(id).slice(1), 'tc', 'qdisc', 'del', 'dev', 'eth0', 'root']);
    });
    return { method: `tc netem delay ${delayMs}ms ${jitterMs}ms loss ${lossPercent}% on every node's interface`, undo };
  }
  const undos: Array<() => void> = [];
  try {
    for (const id of nodeIds) {
      const command = [...prefix(id), 'python3', DELAYER, String(QUEUE), String(delayMs), String(jitterMs)];
      const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      const pid = child.pid;
      if (pid !== undefined) undos.push(registerUndo(`packet delayer of ${id} (pid ${pid})`, () => killQuietly(pid, 'SIGKILL')));
      await new Promise<void>((resolve, reject) => {
        let output = '';
        const timer = setTimeout(() => reject(new Error(`the packet delayer of ${id} did not start: ${output}`)), 10_000);
        const onData = (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('ready')) {
            clearTimeout(timer);
            resolve();
          }
        };
        child.stdout!.on('data', onData);
        child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`the packet delayer of ${id} exited (${code}): ${output.trim()}`));
        });
      });
      for (const other of nodeIds) {
        if (other === id) continue;
        const to = lab.address(other);
        lab.exec(id, 'iptables', ['-w', '-A', 'OUTPUT', '-d', to, '-m', 'statistic', '--mode', 'random', '--probability', String(lossPercent / 100), '-j', 'DROP']);
        lab.exec(id, 'iptables', ['-w', '-A', 'OUTPUT', '-d', to, '-j', 'NFQUEUE', '--queue-num', String(QUEUE), '--queue-bypass']);
      }
      undos.push(() => lab.heal(id));
    }
  } catch (error) {
    while (undos.length > 0) undos.pop()!();
    throw error;
  }
  return {
    method: `no sch_netem in this kernel: iptables drops ${lossPercent}% (statistic) and chaos/netdelay.py holds every other packet ${delayMs} ± ${jitterMs} ms (NFQUEUE), on each node's traffic to the other nodes`,
    undo: () => {
      while (undos.length > 0) undos.pop()!();
    },
  };
}
