/**
 * nats-server from Debian's package, started by the benchmark on loopback with JetStream: one
 * server, or a cluster of N on this machine (own server names, client and route ports, and
 * store dirs under a temp dir; every server routes to every other). Ready once a JetStream
 * request answers (in a cluster: once a replicated stream can be created).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, StorageType } from 'nats';
import { commandExists } from './rabbitmq-server';
import { freePorts, ServerProcess, waitUntil } from './server-process';

const START_TIMEOUT_MS = 60_000;

export interface NatsCluster {
  urls: string[];
  processes: ServerProcess[];
  version: string;
}

export function natsAvailable(): boolean {
  return commandExists('nats-server');
}

function natsVersion(): string {
  const result = spawnSync('nats-server', ['--version'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim().replace(/^nats-server:\s*/, '') : 'unknown';
}

export async function startNats(options: { nodes: number; dir: string; onOutput?: (line: string) => void }): Promise<NatsCluster> {
  const { nodes, dir } = options;
  const processes: ServerProcess[] = [];
  try {
    const ports = await freePorts(2 * nodes);
    const clientPort = (i: number) => ports[2 * i]!;
    const routePort = (i: number) => ports[2 * i + 1]!;
    for (let i = 0; i < nodes; i++) {
      const serverDir = join(dir, `nats-${i + 1}`);
      mkdirSync(serverDir, { recursive: true, mode: 0o700 });
      const lines = [
        `server_name: bench-${i + 1}`,
        `listen: 127.0.0.1:${clientPort(i)}`,
        'jetstream {',
        `  store_dir: ${JSON.stringify(join(serverDir, 'jetstream'))}`,
        '  max_memory_store: 268435456',
        '  max_file_store: 8589934592',
        '}',
      ];
      if (nodes > 1) {
        const routes = Array.from({ length: nodes }, (_, k) => k)
          .filter((k) => k !== i)
          .map((k) => `nats-route://127.0.0.1:${routePort(k)}`);
        lines.push('cluster {', '  name: bench', `  listen: 127.0.0.1:${routePort(i)}`, `  routes: [${routes.join(', ')}]`, '}');
      }
      const config = join(serverDir, 'nats.conf');
      writeFileSync(config, lines.join('\n') + '\n');
      processes.push(new ServerProcess({ name: `nats-${i + 1}`, command: 'nats-server', args: ['-c', config], onOutput: options.onOutput, stopGraceMs: 10_000 }));
    }
    const urls = Array.from({ length: nodes }, (_, i) => `nats://127.0.0.1:${clientPort(i)}`);
    await waitUntil(
      `NATS JetStream (${nodes} server${nodes > 1 ? 's' : ''})`,
      async () => {
        const nc = await connect({ servers: urls[0], timeout: 2_000 });
        try {
          const jsm = await nc.jetstreamManager({ timeout: 2_000 });
          await jsm.getAccountInfo();
          if (nodes > 1) {
            // A replicated stream needs the meta leader and every peer: try one.
            const name = `ready-${Date.now()}`;
            await jsm.streams.add({ name, subjects: [`ready.${name}`], storage: StorageType.File, num_replicas: Math.min(3, nodes) });
            await jsm.streams.delete(name);
          }
        } finally {
          await nc.close();
        }
      },
      START_TIMEOUT_MS,
      processes,
    );
    return { urls, processes, version: natsVersion() };
  } catch (error) {
    await Promise.allSettled(processes.map((p) => p.stop()));
    throw error;
  }
}
