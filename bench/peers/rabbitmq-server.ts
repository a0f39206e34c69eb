/**
 * RabbitMQ nodes from Debian's rabbitmq-server package, started by the benchmark on loopback:
 * one node, or a cluster of N on this machine (own node names, ports and data dirs under a temp
 * dir, as RabbitMQ's "clustering on a single machine" guide does). Its own epmd on a free port
 * (ERL_EPMD_PORT) so nothing is left running: Erlang would otherwise start a system-wide epmd
 * daemon that outlives us. Each node runs `erl` directly (RABBITMQ_ALLOW_INPUT makes the start
 * script exec it, so the PID we hold is the node's beam.smp; -noinput still detaches stdin),
 * with scheduler busy-waiting off (+sbwt none …), as RabbitMQ's runtime guide advises where
 * CPUs are shared: on two cores with the load generator, spinning schedulers would steal its
 * CPU and count as RabbitMQ's CPU per message. The Erlang distribution listens on 127.0.0.1.
 * Nodes 2..N join node 1 by classic-config peer discovery; `rabbitmqctl await_online_nodes`
 * checks the cluster formed.
 */
import amqp from 'amqplib';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts, ServerProcess, waitUntil } from './server-process';

const RABBIT_BIN_DIR = '/usr/lib/rabbitmq/bin';
const START_TIMEOUT_MS = 90_000;

export interface RabbitCluster {
  /** One URL per node (amqp://guest:guest@127.0.0.1:port). */
  urls: string[];
  nodeNames: string[];
  processes: ServerProcess[];
  version: string;
}

export function rabbitAvailable(): boolean {
  return existsSync(join(RABBIT_BIN_DIR, 'rabbitmq-server')) && commandExists('epmd');
}

export function commandExists(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function rabbitVersion(): string {
  const result = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'rabbitmq-server'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : 'unknown';
}

/** Starts `nodes` RabbitMQ nodes under `dir`; on failure stops what it started and rethrows. */
export async function startRabbit(options: { nodes: number; dir: string; onOutput?: (line: string) => void }): Promise<RabbitCluster> {
  const { nodes, dir } = options;
  const processes: ServerProcess[] = [];
  try {
    const [epmdPort, ...ports] = await freePorts(1 + 2 * nodes);
    const suffix = randomBytes(3).toString('hex');
    const nodeNames = Array.from({ length: nodes }, (_, i) => `bench${i + 1}-${suffix}@localhost`);
    const home = join(dir, 'home');
    mkdirSync(home, { recursive: true, mode: 0o700 });
    // Nodes of one cluster, and rabbitmqctl, share the Erlang cookie through HOME.
    const cookie = join(home, '.erlang.cookie');
    writeFileSync(cookie, randomBytes(15).toString('hex').toUpperCase(), { mode: 0o400 });
    chmodSync(cookie, 0o400);
    const baseEnv: NodeJS.ProcessEnv = { ...process.env, HOME: home, ERL_EPMD_PORT: String(epmdPort), ERL_EPMD_ADDRESS: '127.0.0.1' };

    const epmd = new ServerProcess({ name: 'epmd', command: 'epmd', args: ['-port', String(epmdPort), '-address', '127.0.0.1'], env: baseEnv, onOutput: options.onOutput });
    processes.push(epmd);

    const startNode = (i: number): ServerProcess => {
      const nodeDir = join(dir, `rabbit-${i + 1}`);
      mkdirSync(nodeDir, { recursive: true, mode: 0o700 });
      const amqpPort = ports[2 * i]!;
      const distPort = ports[2 * i + 1]!;
      const conf = [
        `listeners.tcp.1 = 127.0.0.1:${amqpPort}`,
        'log.console = true',
        'log.console.level = warning',
        'log.file = false',
        ...(nodes > 1 ? ['cluster_formation.peer_discovery_backend = classic_config', ...nodeNames.map((name, k) => `cluster_formation.classic_config.nodes.${k + 1} = ${name}`)] : []),
        '',
      ].join('\n');
      writeFileSync(join(nodeDir, 'rabbitmq.conf'), conf);
      writeFileSync(join(nodeDir, 'enabled_plugins'), '[].\n');
      writeFileSync(join(nodeDir, 'rabbitmq-env.conf'), '');
      const env: NodeJS.ProcessEnv = {
        ...baseEnv,
        RABBITMQ_NODENAME: nodeNames[i],
        RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
        RABBITMQ_NODE_PORT: String(amqpPort),
        RABBITMQ_DIST_PORT: String(distPort),
        RABBITMQ_CONFIG_FILE: join(nodeDir, 'rabbitmq.conf'),
        RABBITMQ_ADVANCED_CONFIG_FILE: join(nodeDir, 'advanced.config'),
        RABBITMQ_CONF_ENV_FILE: join(nodeDir, 'rabbitmq-env.conf'),
        RABBITMQ_ENABLED_PLUGINS_FILE: join(nodeDir, 'enabled_plugins'),
        RABBITMQ_MNESIA_BASE: join(nodeDir, 'mnesia'),
        RABBITMQ_LOG_BASE: join(nodeDir, 'log'),
        RABBITMQ_PID_FILE: join(nodeDir, 'rabbit.pid'),
        RABBITMQ_ALLOW_INPUT: 'true',
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-noinput +sbwt none +sbwtdcpu none +sbwtdio none -kernel inet_dist_use_interface {127,0,0,1}',
      };
      const node = new ServerProcess({ name: `rabbitmq-${i + 1}`, command: join(RABBIT_BIN_DIR, 'rabbitmq-server'), args: [], env, cwd: nodeDir, onOutput: options.onOutput });
      processes.push(node);
      return node;
    };
    const url = (i: number) => `amqp://guest:guest@127.0.0.1:${ports[2 * i]!}`;
    const ready = (i: number, node: ServerProcess) =>
      waitUntil(
        `RabbitMQ node ${nodeNames[i]}`,
        async () => {
          const connection = await amqp.connect(url(i));
          connection.on('error', () => {});
          await connection.close();
        },
        START_TIMEOUT_MS,
        [epmd, node],
      );

    // Node 1 first: the others find it running and join it.
    const first = startNode(0);
    await ready(0, first);
    const others = Array.from({ length: nodes - 1 }, (_, k) => startNode(k + 1));
    await Promise.all(others.map((node, k) => ready(k + 1, node)));
    if (nodes > 1) {
      const ctl = spawnSync(join(RABBIT_BIN_DIR, 'rabbitmqctl'), ['-n', nodeNames[0]!, 'await_online_nodes', String(nodes), '--timeout', '60'], {
        env: baseEnv,
        encoding: 'utf8',
        timeout: 70_000,
      });
      if (ctl.status !== 0) throw new Error(`RabbitMQ: the ${nodes} nodes did not form a cluster: ${ctl.stdout}${ctl.stderr}`);
    }
    return { urls: Array.from({ length: nodes }, (_, i) => url(i)), nodeNames, processes, version: rabbitVersion() };
  } catch (error) {
    await stopAll(processes);
    throw error;
  }
}

/** Nodes first (epmd must outlive them: they unregister from it), epmd last. */
export async function stopAll(processes: ServerProcess[]): Promise<void> {
  const epmd = processes.filter((p) => p.name === 'epmd');
  await Promise.allSettled(processes.filter((p) => p.name !== 'epmd').map((p) => p.stop()));
  await Promise.allSettled(epmd.map((p) => p.stop()));
}
