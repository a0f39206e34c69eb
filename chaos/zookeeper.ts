/**
 * A standalone ZooKeeper for one fault-suite run, on the lab's host address (the bridge, so
 * that nodes in their namespaces reach it), with its own temp data dir and a short tickTime
 * (sessions of a few seconds are allowed). Java and the jars are found as the tests find them
 * (test/helpers/zookeeper.ts: Debian's `zookeeper` package, or ZOOKEEPER_HOME). `restart()`
 * keeps the port and data dir, so sessions and znodes survive as in a real restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findZooKeeper } from '../test/helpers/zookeeper';
import { registerUndo } from './cleanup';
import { killQuietly } from './process';

const TICK_TIME_MS = 200;
const START_TIMEOUT_MS = 40_000;

export interface ChaosZooKeeper {
  address: string;
  port: number;
  connectString: string;
  stop(): Promise<void>;
  restart(): Promise<void>;
  log(): string;
}

export async function startZooKeeper(address: string): Promise<ChaosZooKeeper> {
  const install = findZooKeeper();
  const dataDir = mkdtempSync(join(tmpdir(), 'mom-chaos-zk-'));
  const removeDir = registerUndo(`ZooKeeper dir ${dataDir}`, () => rmSync(dataDir, { recursive: true, force: true }));
  const port = await freePort(address);
  writeFileSync(
    join(dataDir, 'zoo.cfg'),
    [
      `tickTime=${TICK_TIME_MS}`,
      `dataDir=${dataDir}`,
      `clientPort=${port}`,
      `clientPortAddress=${address}`,
      'maxSessionTimeout=60000',
      'maxClientCnxns=0',
      'admin.enableServer=false',
      '4lw.commands.whitelist=srvr,ruok',
      'autopurge.purgeInterval=0',
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let forget: (() => void) | undefined;

  const launch = async (): Promise<void> => {
    const logFd = openSync(join(dataDir, 'zookeeper.log'), 'a');
    const started = spawn(
      install.java,
      ['-Xms32m', '-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.net.preferIPv4Stack=true', '-Dzookeeper.jmx.log4j.disable=true', `-Dzookeeper.log.dir=${dataDir}`, ...install.jvmArgs, '-cp', install.classpath, 'org.apache.zookeeper.server.ZooKeeperServerMain', join(dataDir, 'zoo.cfg')],
      { cwd: dataDir, stdio: ['ignore', logFd, logFd] },
    );
    closeSync(logFd);
    child = started;
    const pid = started.pid;
    forget = pid === undefined ? undefined : registerUndo(`ZooKeeper (pid ${pid})`, () => killQuietly(pid, 'SIGKILL'));
    exited = new Promise<void>((resolve) => {
      started.once('exit', () => resolve());
      started.once('error', () => resolve());
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (started.exitCode !== null || started.signalCode !== null) throw new Error(`ZooKeeper exited at start:\n${log().split('\n').slice(-20).join('\n')}`);
      if ((await fourLetter(address, port, 'srvr')).includes('Mode:')) return;
      if (Date.now() > deadline) throw new Error(`ZooKeeper did not answer on ${address}:${port} within ${START_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stop = async (): Promise<void> => {
    const running = child;
    if (!running?.pid || running.exitCode !== null || running.signalCode !== null) return;
    killQuietly(running.pid, 'SIGTERM');
    const timer = setTimeout(() => killQuietly(running.pid!, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    forget?.();
  };
  const log = (): string => {
    try {
      return readFileSync(join(dataDir, 'zookeeper.log'), 'utf8');
    } catch {
      return '';
    }
  };
  await launch();
  return {
    address,
    port,
    connectString: `${address}:${port}`,
    stop: async () => {
      await stop();
      removeDir();
    },
    restart: async () => {
      await stop();
      for (let attempt = 1; ; attempt++) {
        try {
          await launch();
          return;
        } catch (error) {
          if (attempt >= 5) throw error;
          await new Promise((r) => setTimeout(r, 300));
        }
      }
    },
    log,
  };
}

export function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, address, () => {
      const bound = server.address();
      const port = typeof bound === 'object' && bound ? bound.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Sends a ZooKeeper four-letter word and returns the answer ('' when there is none). */
function fourLetter(address: string, port: number, word: string): Promise<string> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect(port, address, () => socket.end(word));
    socket.setTimeout(1_000, () => socket.destroy());
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('close', () => resolve(answer));
    socket.on('error', () => resolve(''));
  });
}
