/**
 * A real ZooKeeper for tests.
 *
 * `startZooKeeper(t)` starts a standalone server from the operating system's package
 * (Debian: `zookeeper`, jars in /usr/share/java) or from `ZOOKEEPER_HOME` (an Apache
 * tarball), on a free loopback port with its own temp data dir and a short tickTime, so
 * session timeouts of a second or two are allowed. Java runs directly, with the package's
 * classpath; the process is stopped by its PID when the test ends. With `ZOOKEEPER=host:port`
 * an existing ensemble is used instead and nothing is started.
 *
 * Either way each fixture gets its own root (`/mom-test-<uuid>`), removed at the end.
 *
 * `startProxy(t, connectString)` puts a TCP proxy in front of it that tests can cut (all
 * connections closed, new ones refused) or freeze (connections stay open, bytes are
 * dropped): the way to make a client lose its session without touching the server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';
import { ZkClient } from '../../src/coordination/zk-client';
import { silentLogger } from '../../src/runtime/logger';

export const ZOOKEEPER_NOT_FOUND =
  'ZooKeeper not found: install it with `apt-get install -y zookeeper` (Debian) or set ZOOKEEPER_HOME';

/** ZooKeeper grants session timeouts in [2, 20] × tickTime unless told otherwise. */
export const TICK_TIME_MS = 200;
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

export interface ZooKeeperServer {
  /** `127.0.0.1:<port>` (or the `ZOOKEEPER` ensemble). */
  connectString: string;
  /** A root path of this fixture's own, e.g. `/mom-test-3f2a…`. */
  root: string;
  /** The java process, or undefined for an external ensemble. */
  pid: number | undefined;
  /** The server's data dir and log (`zookeeper.log`), or undefined for an external ensemble. */
  dataDir: string | undefined;
  /** Stops the server (SIGTERM, then SIGKILL), by PID. Idempotent. */
  stop(): Promise<void>;
  /** Stops and starts it again on the same port and data dir; undefined for an external ensemble. */
  restart: (() => Promise<void>) | undefined;
  /** The server's log so far ('' for an external ensemble). */
  log(): string;
}

/**
 * `own: true` always starts a local server, even with `ZOOKEEPER` set: for tests that stop or
 * restart the server, which an external ensemble does not allow.
 */
export async function startZooKeeper(t: TestContext, options: { own?: boolean } = {}): Promise<ZooKeeperServer> {
  const root = `/mom-test-${randomUUID()}`;
  const external = options.own ? undefined : process.env.ZOOKEEPER;
  if (external !== undefined && external !== '') {
    await waitForClient(external, START_TIMEOUT_MS, () => undefined);
    const server: ZooKeeperServer = {
      connectString: external,
      root,
      pid: undefined,
      dataDir: undefined,
      stop: async () => {},
      restart: undefined,
      log: () => '',
    };
    t.after(() => removeTree(external, root));
    return server;
  }

  const install = findZooKeeper();
  const dataDir = mkdtempSync(join(tmpdir(), 'mom-zk-'));
  let port = await freePort();
  let proc: RunningJava | undefined;
  for (let attempt = 1; ; attempt++) {
    writeConfig(dataDir, port);
    try {
      proc = await launch(install, dataDir, port);
      break;
    } catch (error) {
      // The free port may have been taken between our probe and java's bind: pick another.
      if (attempt >= 3 || !/Address already in use|BindException/.test(readLog(dataDir))) throw error;
      port = await freePort();
    }
  }
  let current: RunningJava = proc;
  const server: ZooKeeperServer = {
    connectString: `127.0.0.1:${port}`,
    root,
    get pid() {
      return current.child.pid;
    },
    dataDir,
    stop: () => current.stop(),
    restart: async () => {
      await current.stop();
      // Same port and data dir: sessions and znodes survive, as with a real restart.
      for (let attempt = 1; ; attempt++) {
        try {
          current = await launch(install, dataDir, port);
          break;
        } catch (error) {
          if (attempt >= 5) throw error;
          await delay(200);
        }
      }
    },
    log: () => readLog(dataDir),
  };
  t.after(async () => {
    await current.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return server;
}

// ---- finding and running ZooKeeper ------------------------------------------------------

interface ZooKeeperInstall {
  java: string;
  classpath: string;
  jvmArgs: string[];
}

/** Java and the classpath of an installed ZooKeeper; throws ZOOKEEPER_NOT_FOUND if there is none. */
export function findZooKeeper(): ZooKeeperInstall {
  const java = findJava();
  const home = process.env.ZOOKEEPER_HOME;
  if (home) {
    // Apache tarball layout: lib/*.jar (zookeeper, jute, netty, slf4j, logback) and conf/.
    const jars = [home, join(home, 'lib')].flatMap((dir) => listJars(dir));
    if (!jars.some((jar) => /zookeeper-[0-9][^/]*\.jar$/.test(jar) || jar.endsWith('/zookeeper.jar'))) {
      throw new Error(`${ZOOKEEPER_NOT_FOUND} (ZOOKEEPER_HOME=${home} holds no zookeeper jar)`);
    }
    const conf = join(home, 'conf');
    return { java, classpath: [...(existsSync(conf) ? [conf] : []), ...jars].join(delimiter), jvmArgs: [] };
  }
  // Debian/Ubuntu `zookeeper` package: zookeeper.jar's manifest names its dependencies.
  const debian = '/usr/share/java/zookeeper.jar';
  if (existsSync(debian)) {
    const binding = ['/usr/share/java/slf4j-simple.jar'].filter((jar) => existsSync(jar));
    return {
      java,
      classpath: [debian, ...binding].join(delimiter),
      jvmArgs: ['-Dorg.slf4j.simpleLogger.defaultLogLevel=info', '-Dorg.slf4j.simpleLogger.showDateTime=true'],
    };
  }
  throw new Error(ZOOKEEPER_NOT_FOUND);
}

function findJava(): string {
  const candidates = [
    ...(process.env.JAVA_HOME ? [join(process.env.JAVA_HOME, 'bin', 'java')] : []),
    ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'java')),
  ];
  const java = candidates.find((path) => isFile(path));
  if (!java) throw new Error(`${ZOOKEEPER_NOT_FOUND} (no java found on PATH or in JAVA_HOME)`);
  return java;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function listJars(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((name) => name.endsWith('.jar'))
      .sort()
      .map((name) => join(dir, name));
  } catch {
    return [];
  }
}

function writeConfig(dataDir: string, port: number): void {
  const config = [
    `tickTime=${TICK_TIME_MS}`,
    `dataDir=${dataDir}`,
    `clientPort=${port}`,
    'clientPortAddress=127.0.0.1',
    'maxSessionTimeout=60000',
    'maxClientCnxns=0',
    'admin.enableServer=false',
    '4lw.commands.whitelist=srvr',
    'autopurge.purgeInterval=0',
    '',
  ].join('\n');
  writeFileSync(join(dataDir, 'zoo.cfg'), config);
}

function readLog(dataDir: string): string {
  try {
    return readFileSync(join(dataDir, 'zookeeper.log'), 'utf8');
  } catch {
    return '';
  }
}

interface RunningJava {
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Children still running when the test process exits are killed by PID, never by name. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
});

async function launch(install: ZooKeeperInstall, dataDir: string, port: number): Promise<RunningJava> {
  const logFd = openSync(join(dataDir, 'zookeeper.log'), 'a');
  const child = spawn(
    install.java,
    [
      '-Xms32m',
      '-Xmx256m',
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      '-Djava.net.preferIPv4Stack=true',
      '-Dzookeeper.jmx.log4j.disable=true',
      `-Dzookeeper.log.dir=${dataDir}`,
      ...install.jvmArgs,
      '-cp',
      install.classpath,
      'org.apache.zookeeper.server.ZooKeeperServerMain',
      join(dataDir, 'zoo.cfg'),
    ],
    { cwd: dataDir, stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  running.add(child);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once('exit', () => {
      running.delete(child);
      resolve();
    });
    child.once('error', () => {
      running.delete(child);
      resolve();
    });
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return exited;
      process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
      }, STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    })());

  try {
    await waitForClient(`127.0.0.1:${port}`, START_TIMEOUT_MS, () =>
      child.exitCode !== null || child.signalCode !== null ? `java exited with ${child.exitCode ?? child.signalCode}` : undefined,
    );
  } catch (error) {
    await stop();
    const tail = readLog(dataDir).split('\n').slice(-30).join('\n');
    throw new Error(`ZooKeeper did not start on 127.0.0.1:${port}: ${(error as Error).message}\n--- zookeeper.log (tail) ---\n${tail}`);
  }
  return { child, stop };
}

/** Polls until a ZooKeeper client gets a session (bounded), or `failed()` names a reason to stop. */
async function waitForClient(connectString: string, timeoutMs: number, failed: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  for (;;) {
    const reason = failed();
    if (reason) throw new Error(reason);
    if (Date.now() >= deadline) throw new Error(`no ZooKeeper session at ${connectString} within ${timeoutMs} ms (${last})`);
    const client = new ZkClient({ connectString, sessionTimeoutMs: 2_000, operationTimeoutMs: 2_000, logger: silentLogger });
    client.connect();
    try {
      await client.waitConnected(Math.min(1_000, Math.max(1, deadline - Date.now())));
      return;
    } catch (error) {
      last = (error as Error).message;
    } finally {
      await client.close();
    }
    await delay(100);
  }
}

/** Deletes `root` and everything below it. */
async function removeTree(connectString: string, root: string): Promise<void> {
  const client = new ZkClient({ connectString, sessionTimeoutMs: 4_000, operationTimeoutMs: 5_000, logger: silentLogger });
  client.connect();
  try {
    await client.waitConnected(5_000);
    const remove = async (path: string): Promise<void> => {
      for (const child of (await client.getChildren(path)) ?? []) await remove(`${path}/${child}`);
      await client.remove(path);
    };
    await remove(root);
  } finally {
    await client.close();
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- a proxy that can cut a client off ----------------------------------------------------

export interface TcpProxy {
  /** `127.0.0.1:<port>`: give this to the client under test. */
  connectString: string;
  /** Closes every connection and refuses new ones (the client sees the server go away). */
  cut(): void;
  /** Keeps connections open but drops every byte (the server goes silent). */
  freeze(): void;
  /** Back to normal; connections from before are closed first. */
  heal(): void;
  /** Connections currently open through the proxy. */
  connections(): number;
  /** Connections accepted since the proxy started (refused ones included). */
  accepted(): number;
}

/** A TCP proxy on a free loopback port in front of `target` (`host:port`, the first of a list). */
export async function startProxy(t: TestContext, target: string): Promise<TcpProxy> {
  const first = target.split(',')[0]!.split('/')[0]!;
  const colon = first.lastIndexOf(':');
  const host = first.slice(0, colon);
  const port = Number(first.slice(colon + 1));
  let mode: 'open' | 'cut' | 'frozen' = 'open';
  const pairs = new Set<[Socket, Socket]>();
  let accepted = 0;

  const dropAll = (): void => {
    for (const [a, b] of pairs) {
      a.destroy();
      b.destroy();
    }
    pairs.clear();
  };

  const server: Server = createServer((downstream) => {
    accepted++;
    if (mode === 'cut') {
      downstream.destroy();
      return;
    }
    const upstream = netConnect(port, host);
    const pair: [Socket, Socket] = [downstream, upstream];
    pairs.add(pair);
    const close = (): void => {
      pairs.delete(pair);
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on('data', (chunk) => {
      if (mode === 'open') upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (mode === 'open') downstream.write(chunk);
    });
    for (const socket of pair) {
      socket.on('error', close);
      socket.on('close', close);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const listenPort = typeof address === 'object' && address ? address.port : 0;
  t.after(
    () =>
      new Promise<void>((resolve) => {
        dropAll();
        server.close(() => resolve());
      }),
  );
  return {
    connectString: `127.0.0.1:${listenPort}`,
    cut: () => {
      mode = 'cut';
      dropAll();
    },
    freeze: () => {
      mode = 'frozen';
    },
    heal: () => {
      if (mode === 'frozen') dropAll(); // bytes were lost: those streams are unusable
      mode = 'open';
    },
    connections: () => pairs.size,
    accepted: () => accepted,
  };
}
