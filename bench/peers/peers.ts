/**
 * The peers `npm run bench -- --peers` measures mombroker against, started on loopback for the
 * run and stopped (by PID) at its end:
 *
 * - single node: RabbitMQ classic durable queue with publisher confirms, RabbitMQ quorum
 *   queue, NATS JetStream R1 (file storage) — one RabbitMQ node and one nats-server;
 * - `--cluster N`: a RabbitMQ quorum queue on an N-node RabbitMQ cluster, and NATS JetStream
 *   with min(3, N) replicas on an N-server NATS cluster, all on this machine.
 *
 * The Debian packages are installed when missing (scripts/install-bench-peers.sh, as root).
 * A peer that cannot start is reported and left out; the others are still measured.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../broker-under-test';
import type { BenchDriver } from '../../src/loadgen/driver';
import { natsDriver } from '../drivers/nats';
import { rabbitDriver } from '../drivers/rabbitmq';
import { live, type LiveEntry } from '../processes';
import { natsAvailable, startNats } from './nats-server';
import { rabbitAvailable, startRabbit, stopAll } from './rabbitmq-server';
import type { ServerProcess } from './server-process';

const INSTALL_SCRIPT = join(REPO_ROOT, 'scripts', 'install-bench-peers.sh');

export interface PeerSet {
  drivers: BenchDriver[];
  /** What ran: package versions and the processes (name → pid). */
  servers: Array<{ peer: string; version: string; processes: Record<string, number> }>;
  /** Peers that could not be started, with why. */
  failed: Array<{ peer: string; error: string }>;
  /** Stops every server started (by PID) and removes the temp dir. Idempotent. */
  close(): Promise<void>;
}

export interface StartPeersOptions {
  /** 0: single-node peers; N ≥ 2: N-node peer clusters. */
  cluster: number;
  payloadBytes: number;
  progress: (text: string) => void;
  onOutput?: (line: string) => void;
}

function pidsOf(processes: ServerProcess[]): () => number[] {
  return () => processes.filter((p) => p.running).map((p) => p.pid);
}

function processTable(processes: ServerProcess[]): Record<string, number> {
  return Object.fromEntries(processes.map((p) => [p.name, p.pid]));
}

/** Installs the Debian packages when one is missing; throws with the script's message when it cannot. */
function ensureInstalled(progress: (text: string) => void): void {
  if (rabbitAvailable() && natsAvailable()) return;
  progress('rabbitmq-server or nats-server missing: running scripts/install-bench-peers.sh');
  const result = spawnSync('bash', [INSTALL_SCRIPT], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 600_000 });
  if (result.status !== 0) throw new Error(`scripts/install-bench-peers.sh failed (${result.status ?? result.signal}); install rabbitmq-server and nats-server, or run without --peers`);
}

export async function startPeers(options: StartPeersOptions): Promise<PeerSet> {
  const { cluster, payloadBytes, progress } = options;
  const nodes = cluster >= 2 ? cluster : 1;
  const dir = mkdtempSync(join(tmpdir(), 'mom-bench-peers-'));
  const processes: ServerProcess[] = [];
  let closing: Promise<void> | undefined;
  const entry: LiveEntry = {
    close: () => set.close(),
    closeNow: () => rmSync(dir, { recursive: true, force: true }),
  };
  const set: PeerSet = {
    drivers: [],
    servers: [],
    failed: [],
    close() {
      closing ??= (async () => {
        await Promise.allSettled(set.drivers.map((driver) => driver.close()));
        await stopAll(processes);
        rmSync(dir, { recursive: true, force: true });
        live.delete(entry);
      })();
      return closing;
    },
  };
  live.add(entry);
  try {
    ensureInstalled(progress);
  } catch (error) {
    await set.close();
    throw error;
  }

  progress(nodes === 1 ? 'starting RabbitMQ (one node)' : `starting a ${nodes}-node RabbitMQ cluster`);
  try {
    const rabbit = await startRabbit({ nodes, dir: join(dir, 'rabbitmq'), onOutput: options.onOutput });
    processes.push(...rabbit.processes);
    const pids = pidsOf(rabbit.processes);
    const url = rabbit.urls[0]!;
    if (nodes === 1) {
      set.drivers.push(rabbitDriver({ name: 'RabbitMQ classic', description: `durable classic queue, persistent messages, publisher confirms (RabbitMQ ${rabbit.version})`, url, queueType: 'classic', payloadBytes, pids }));
      set.drivers.push(rabbitDriver({ name: 'RabbitMQ quorum', description: `quorum queue (one member), publisher confirms (RabbitMQ ${rabbit.version})`, url, queueType: 'quorum', payloadBytes, pids }));
    } else {
      set.drivers.push(rabbitDriver({ name: `RabbitMQ quorum (${nodes} nodes)`, description: `quorum queue on ${nodes} members, publisher confirms; clients on node 1, the queue's leader (RabbitMQ ${rabbit.version})`, url, queueType: 'quorum', payloadBytes, pids }));
    }
    set.servers.push({ peer: 'RabbitMQ', version: rabbit.version, processes: processTable(rabbit.processes) });
    progress(`RabbitMQ ${rabbit.version} at ${rabbit.urls.map((u) => u.replace(/\/\/[^@]*@/, '//')).join(', ')} (pids ${rabbit.processes.map((p) => p.pid).join(', ')})`);
  } catch (error) {
    set.failed.push({ peer: 'RabbitMQ', error: error instanceof Error ? error.message : String(error) });
    progress(`RabbitMQ did not start, left out: ${error instanceof Error ? error.message : String(error)}`);
  }

  progress(nodes === 1 ? 'starting nats-server with JetStream' : `starting a ${nodes}-server NATS cluster with JetStream`);
  try {
    const nats = await startNats({ nodes, dir: join(dir, 'nats'), onOutput: options.onOutput });
    processes.push(...nats.processes);
    const replicas = Math.min(3, nodes);
    set.drivers.push(
      natsDriver({
        name: `NATS JetStream R${replicas}`,
        description: `work-queue stream on file storage, ${replicas} replica${replicas > 1 ? 's' : ''}, not fsynced before the PubAck (nats-server ${nats.version})`,
        url: nats.urls[0]!,
        replicas,
        payloadBytes,
        pids: pidsOf(nats.processes),
      }),
    );
    set.servers.push({ peer: 'NATS', version: nats.version, processes: processTable(nats.processes) });
    progress(`nats-server ${nats.version} at ${nats.urls.join(', ')} (pids ${nats.processes.map((p) => p.pid).join(', ')})`);
  } catch (error) {
    set.failed.push({ peer: 'NATS', error: error instanceof Error ? error.message : String(error) });
    progress(`NATS did not start, left out: ${error instanceof Error ? error.message : String(error)}`);
  }
  return set;
}
