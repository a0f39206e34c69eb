/**
 * Where the cluster's nodes live: each in its own network namespace (`ip netns`), joined by a
 * veth pair to a bridge in the root namespace, which holds ZooKeeper, auth, the partitioner,
 * the gateway and the load generator on the bridge's address. The subnet is 10.77.X.0/24 with
 * X picked per run among those no interface uses, and every name carries the run's id, so two
 * runs never collide. Nothing is routed or forwarded: the namespaces reach only the bridge.
 *
 * Faults are packet-filter rules inside a node's namespace (iptables), so the rest of the
 * machine is never touched: `cut` drops traffic to and from some addresses, `heal` removes
 * every rule. Where namespaces cannot be made, a `loopback` lab runs everything on
 * 127.0.0.1, for the scenarios that need no network fault.
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { registerUndo, run, tryRun } from './cleanup';

export interface Endpoint {
  address: string;
  /** A TCP port; every port of the address when undefined. */
  port?: number;
}

export interface Lab {
  readonly kind: 'netns' | 'loopback';
  /** The address of everything outside the nodes (bridge address, or 127.0.0.1). */
  readonly hostAddress: string;
  /** A node's own address. */
  address(nodeId: string): string;
  /** What to put before `node …` to run a command as that node (`ip netns exec NS`), or nothing. */
  prefix(nodeId: string): string[];
  /** Runs a command inside a node's namespace (netns labs only). */
  exec(nodeId: string, command: string, args: readonly string[]): string;
  /** Drops every packet between the node and these endpoints, both ways. */
  cut(nodeId: string, endpoints: readonly Endpoint[]): void;
  /** Drops every packet in and out of the node's interface. */
  isolate(nodeId: string): void;
  /** Removes every filter rule in the node's namespace. */
  heal(nodeId: string): void;
  /** Removes the namespaces, the links and the bridge. Idempotent. */
  close(): void;
}

/** Why namespaces cannot be made here, or undefined when they can. */
export function namespacesUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'network namespaces need root (CAP_NET_ADMIN): run as root, e.g. `sudo npm run chaos`';
  for (const tool of ['ip', 'iptables']) {
    if (spawnSync(tool, ['-V'], { stdio: 'ignore' }).error) return `${tool} is missing: run scripts/install-deps.sh as root (Debian packages iproute2 and iptables)`;
  }
  const probe = `momprobe-${randomBytes(3).toString('hex')}`;
  const made = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (made.status !== 0) return `\`ip netns add\` failed (${(made.stderr || '').trim()}): the suite needs root with CAP_NET_ADMIN and CAP_SYS_ADMIN, not a restricted container`;
  const filter = spawnSync('ip', ['netns', 'exec', probe, 'iptables', '-S'], { encoding: 'utf8' });
  tryRun('ip', ['netns', 'del', probe]);
  if (filter.status !== 0) return `iptables does not work in a namespace (${(filter.stderr || '').trim()})`;
  return undefined;
}

export function loopbackLab(): Lab {
  const unsupported = (what: string) => (): never => {
    throw new Error(`${what} needs network namespaces; this run has none`);
  };
  return {
    kind: 'loopback',
    hostAddress: '127.0.0.1',
    address: () => '127.0.0.1',
    prefix: () => [],
    exec: unsupported('running a command in a node namespace'),
    cut: unsupported('cutting a node off'),
    isolate: unsupported('isolating a node'),
    heal: () => {},
    close: () => {},
  };
}

/** 10.77.X.0/24 subnets some interface already uses. */
function subnetsInUse(): Set<number> {
  const used = new Set<number>();
  const out = spawnSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' }).stdout ?? '';
  for (const match of out.matchAll(/inet 10\.77\.(\d+)\./g)) used.add(Number(match[1]));
  return used;
}

export function namespaceLab(nodeIds: readonly string[]): Lab {
  const run8 = randomBytes(2).toString('hex');
  const used = subnetsInUse();
  const free = Array.from({ length: 250 }, (_, i) => i + 2).filter((x) => !used.has(x));
  if (free.length === 0) throw new Error('no free 10.77.X.0/24 subnet');
  const subnet = free[randomBytes(1)[0]! % free.length]!;
  const bridge = `mc${run8}br`;
  const hostAddress = `10.77.${subnet}.1`;
  const hosts = new Map<string, { ns: string; address: string }>();
  const undos: Array<() => void> = [];
  let closed = false;

  const close = (): void => {
    if (closed) return;
    closed = true;
    while (undos.length > 0) undos.pop()!();
  };
  try {
    run('ip', ['link', 'add', bridge, 'type', 'bridge']);
    undos.push(registerUndo(`bridge ${bridge}`, () => void tryRun('ip', ['link', 'del', bridge])));
    run('ip', ['addr', 'add', `${hostAddress}/24`, 'dev', bridge]);
    run('ip', ['link', 'set', bridge, 'up']);
    nodeIds.forEach((id, i) => {
      const ns = `mom-${run8}-${id}`;
      const address = `10.77.${subnet}.${10 + i}`;
      const outer = `mc${run8}v${i}`;
      const inner = `mc${run8}p${i}`;
      run('ip', ['netns', 'add', ns]);
      undos.push(registerUndo(`namespace ${ns}`, () => void tryRun('ip', ['netns', 'del', ns])));
      run('ip', ['link', 'add', outer, 'type', 'veth', 'peer', 'name', inner]);
      // Deleting one end deletes the pair; the namespace's end goes with the namespace.
      undos.push(registerUndo(`veth ${outer}`, () => void tryRun('ip', ['link', 'del', outer])));
      run('ip', ['link', 'set', inner, 'netns', ns]);
      run('ip', ['link', 'set', outer, 'master', bridge]);
      run('ip', ['link', 'set', outer, 'up']);
      run('ip', ['-n', ns, 'link', 'set', inner, 'name', 'eth0']);
      run('ip', ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
      run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      hosts.set(id, { ns, address });
    });
  } catch (error) {
    close();
    throw error;
  }

  const host = (nodeId: string) => {
    const found = hosts.get(nodeId);
    if (!found) throw new Error(`no namespace for ${nodeId}`);
    return found;
  };
  const iptables = (nodeId: string, args: string[]) => run('ip', ['netns', 'exec', host(nodeId).ns, 'iptables', '-w', ...args]);

  return {
    kind: 'netns',
    hostAddress,
    address: (nodeId) => host(nodeId).address,
    prefix: (nodeId) => ['ip', 'netns', 'exec', host(nodeId).ns],
    exec: (nodeId, command, args) => run('ip', ['netns', 'exec', host(nodeId).ns, command, ...args]),
    cut: (nodeId, endpoints) => {
      for (const endpoint of endpoints) {
        const out = ['-d', endpoint.address, ...(endpoint.port === undefined ? [] : ['-p', 'tcp', '--dport', String(endpoint.port)])];
        const into = ['-s', endpoint.address, ...(endpoint.port === undefined ? [] : ['-p', 'tcp', '--sport', String(endpoint.port)])];
        iptables(nodeId, ['-A', 'OUTPUT', ...out, '-j', 'DROP']);
        iptables(nodeId, ['-A', 'INPUT', ...into, '-j', 'DROP']);
      }
    },
    isolate: (nodeId) => {
      iptables(nodeId, ['-A', 'OUTPUT', '-o', 'eth0', '-j', 'DROP']);
      iptables(nodeId, ['-A', 'INPUT', '-i', 'eth0', '-j', 'DROP']);
    },
    heal: (nodeId) => {
      iptables(nodeId, ['-F']);
    },
    close,
  };
}
