/**
 * The Coordinator on Apache ZooKeeper (DESIGN §4). Layout and wire format: zk-layout.ts;
 * one session as promises: zk-client.ts; watched directories: zk-watch.ts; the controller
 * election recipe and the epoch: controller-election.ts; partition writes and the epoch
 * fence: zk-partitions.ts; this node's registration: zk-registration.ts; sessions and their
 * restoration after an expiry: zk-sessions.ts.
 *
 * After a session expired, the new one gets this node's registration again, every watched
 * directory is read again (re-arming the watches), campaigning candidates stay in the queue,
 * and only then is `connected` reported. A controller that held the role when its session
 * expired is deposed (its election's onDeposed fires); it is not re-elected behind the
 * owner's back.
 *
 * Errors: anything that fails for want of ZooKeeper is a MomError `unavailable`
 * ("ZooKeeper at 127.0.0.1:2181 is unreachable: …"). An operation that times out has an
 * unknown outcome: read again before writing again (the CAS makes a retry safe).
 *
 * One concept past 350 lines: the Coordinator interface's methods, each a short composition
 * of the files above.
 */
import { CreateMode, type Stat } from 'node-zookeeper-client';
import { MomError } from '../core/errors';
import { assertValidName } from '../core/names';
import type { Logger } from '../runtime/logger';
import type {
  ClusterSettings,
  ControllerElection,
  ControllerFence,
  Coordinator,
  ExchangeInfo,
  NodeInfo,
  PartitionAssignment,
  PartitionState,
  SessionState,
  Unsubscribe,
} from './coordinator';
import { ZkControllerElection } from './controller-election';
import type { ZkClient } from './zk-client';
import {
  decodeCluster,
  decodeExchange,
  decodeNode,
  decodePartition,
  encodeCluster,
  encodeEpoch,
  encodeExchange,
  ZkLayout,
} from './zk-layout';
import { casPartitionNode, createPartitionNode, decodePartitionNode } from './zk-partitions';
import { removeRegistration, writeRegistration } from './zk-registration';
import { ZkSessions } from './zk-sessions';
import { ChildrenWatch, type SessionHost } from './zk-watch';

export interface ZooKeeperCoordinatorOptions {
  /** `host:port[,host:port…][/chroot]`. */
  connectString: string;
  /** Root of the cluster's znodes; default `/mom`. */
  root?: string;
  /** Requested session timeout; the ensemble may grant another (see sessionTimeoutMs()). */
  sessionTimeoutMs: number;
  logger: Logger;
  /** How long start() waits for the first session; default max(sessionTimeoutMs, 10 s). */
  connectTimeoutMs?: number;
  /** Deadline of one ZooKeeper operation, waiting for a connection included; default max(sessionTimeoutMs, 5 s). */
  operationTimeoutMs?: number;
}

export class ZooKeeperCoordinator implements Coordinator {
  readonly kind = 'zookeeper' as const;
  private readonly layout: ZkLayout;
  private readonly log: Logger;
  private readonly sessions: ZkSessions;
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  private registration: NodeInfo | undefined;
  private nodesWatch: ChildrenWatch<NodeInfo> | undefined;
  private partitionsWatch: ChildrenWatch<PartitionState> | undefined;
  private readonly elections = new Set<ZkControllerElection>();
  private readonly host: SessionHost = { connectedClient: () => this.connectedClient() };

  constructor(options: ZooKeeperCoordinatorOptions) {
    if (typeof options.connectString !== 'string' || !/^[^\s,]+(,[^\s,]+)*$/.test(options.connectString)) {
      throw new MomError('config_invalid', `zookeeper: expected host:port[,host:port...], got ${JSON.stringify(options.connectString)}`);
    }
    if (!Number.isSafeInteger(options.sessionTimeoutMs) || options.sessionTimeoutMs <= 0) {
      throw new MomError('config_invalid', `zookeeper session timeout: expected a positive integer (ms), got ${options.sessionTimeoutMs}`);
    }
    this.layout = new ZkLayout(options.root ?? '/mom');
    this.log = options.logger.child({ component: 'zookeeper', zookeeper: options.connectString, root: this.layout.root });
    this.sessions = new ZkSessions({
      connectString: options.connectString,
      sessionTimeoutMs: options.sessionTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs ?? Math.max(options.sessionTimeoutMs, 10_000),
      operationTimeoutMs: options.operationTimeoutMs ?? Math.max(options.sessionTimeoutMs, 5_000),
      log: this.log,
      hooks: {
        prepare: async (zk, restoring) => {
          await this.ensureLayout(zk);
          if (restoring && this.registration) await writeRegistration(zk, this.layout, this.registration, this.log);
        },
        resync: () => this.resyncAll(),
        expired: () => {
          for (const election of [...this.elections]) election.sessionExpired();
        },
      },
    });
  }

  // ---- lifecycle -------------------------------------------------------------------------

  start(): Promise<void> {
    if (this.sessions.closed) return Promise.reject(this.closedError());
    this.starting ??= this.sessions.start(() => this.closedError()).catch((error: unknown) => {
      this.starting = undefined; // start() may be tried again
      throw error;
    });
    return this.starting;
  }

  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    for (const election of [...this.elections]) election.abandon();
    this.elections.clear();
    this.nodesWatch?.close();
    this.partitionsWatch?.close();
    this.nodesWatch = undefined;
    this.partitionsWatch = undefined;
    // Closing the session removes this node's registration and candidacy at once.
    await this.sessions.close();
  }

  // ---- cluster ---------------------------------------------------------------------------

  async ensureCluster(proposed: ClusterSettings): Promise<ClusterSettings> {
    if (!Number.isSafeInteger(proposed.partitions) || proposed.partitions < 1) {
      throw new MomError('bad_request', `cluster partitions must be a positive integer, got ${proposed.partitions}`);
    }
    const zk = this.client();
    for (;;) {
      if (await zk.create(this.layout.cluster, encodeCluster(proposed), CreateMode.PERSISTENT)) {
        this.log.info('cluster created', { partitions: proposed.partitions });
        return { partitions: proposed.partitions };
      }
      const existing = await zk.getData(this.layout.cluster);
      if (!existing) continue; // deleted in between: try to create again
      const settings = decodeCluster(existing.data);
      if (!settings) throw this.malformed(this.layout.cluster, existing.data);
      return settings;
    }
  }

  // ---- membership ------------------------------------------------------------------------

  async registerNode(info: NodeInfo): Promise<void> {
    const zk = this.client();
    if (this.registration && this.registration.id !== info.id) {
      throw new MomError('conflict', `this coordinator already registered node ${this.registration.id}; cannot also register ${info.id}`);
    }
    await writeRegistration(zk, this.layout, info, this.log);
    this.registration = { ...info };
  }

  async withdrawNode(): Promise<void> {
    const registration = this.registration;
    if (!registration) return;
    this.registration = undefined; // a session restored from now on leaves it out
    const zk = this.client();
    await removeRegistration(zk, this.layout, registration.id);
  }

  async listNodes(): Promise<NodeInfo[]> {
    const nodes = await this.readDirectory(this.layout.nodes, (_name, data) => decodeNode(data));
    return nodes.sort(byId);
  }

  watchNodes(listener: (nodes: NodeInfo[]) => void): Unsubscribe {
    this.assertNotClosed();
    const watch = (this.nodesWatch ??= new ChildrenWatch<NodeInfo>(
      this.host,
      { path: this.layout.nodes, decode: (_name, data) => decodeNode(data), compare: byId },
      this.log,
    ));
    const unsubscribe = watch.add(listener);
    return () => {
      unsubscribe();
      if (watch.listenerCount === 0 && this.nodesWatch === watch) {
        watch.close();
        this.nodesWatch = undefined;
      }
    };
  }

  // ---- partitions ------------------------------------------------------------------------

  async listPartitions(): Promise<PartitionState[]> {
    const states = await this.readDirectory(this.layout.partitions, decodePartitionNode);
    return states.sort(byPartition);
  }

  async getPartition(partition: number): Promise<PartitionState | undefined> {
    const path = this.layout.partition(partition);
    const node = await this.client().getData(path);
    if (!node) return undefined;
    const state = decodePartition(partition, node.data, node.stat.version);
    if (!state) throw this.malformed(path, node.data);
    return state;
  }

  watchPartitions(listener: (states: PartitionState[]) => void): Unsubscribe {
    this.assertNotClosed();
    const watch = (this.partitionsWatch ??= new ChildrenWatch<PartitionState>(
      this.host,
      { path: this.layout.partitions, decode: decodePartitionNode, compare: byPartition },
      this.log,
    ));
    const unsubscribe = watch.add(listener);
    return () => {
      unsubscribe();
      if (watch.listenerCount === 0 && this.partitionsWatch === watch) {
        watch.close();
        this.partitionsWatch = undefined;
      }
    };
  }

  createPartition(state: PartitionAssignment, fence?: ControllerFence): Promise<boolean> {
    return this.withClient((zk) => createPartitionNode(zk, this.layout, state, fence));
  }

  casPartition(next: PartitionAssignment, expectedVersion: number, fence?: ControllerFence): Promise<PartitionState | undefined> {
    return this.withClient((zk) => casPartitionNode(zk, this.layout, next, expectedVersion, fence));
  }

  // ---- exchanges -------------------------------------------------------------------------

  async createExchange(name: string): Promise<{ created: boolean; exchange: ExchangeInfo }> {
    const path = this.layout.exchange(assertValidName('exchange', name));
    const zk = this.client();
    const exchange: ExchangeInfo = { name, createdAt: new Date().toISOString() };
    for (;;) {
      if (await zk.create(path, encodeExchange(exchange), CreateMode.PERSISTENT)) return { created: true, exchange };
      const existing = await zk.getData(path);
      if (existing) return { created: false, exchange: decodeExchange(name, existing.data) };
    }
  }

  async getExchange(name: string): Promise<ExchangeInfo | undefined> {
    const node = await this.client().getData(this.layout.exchange(assertValidName('exchange', name)));
    return node ? decodeExchange(name, node.data) : undefined;
  }

  async listExchanges(): Promise<ExchangeInfo[]> {
    const exchanges = await this.readDirectory(this.layout.exchanges, (name, data) => decodeExchange(name, data));
    return exchanges.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async deleteExchange(name: string): Promise<boolean> {
    return (await this.client().remove(this.layout.exchange(assertValidName('exchange', name)))) === true;
  }

  // ---- controller election ---------------------------------------------------------------

  campaign(candidateId: string): ControllerElection {
    this.assertNotClosed();
    if (typeof candidateId !== 'string' || candidateId === '') {
      throw new MomError('bad_request', 'a controller candidate needs a non-empty id');
    }
    const election = new ZkControllerElection(this.host, this.layout, candidateId, this.log, (e) => this.elections.delete(e));
    this.elections.add(election);
    election.kick();
    return election;
  }

  // ---- session ---------------------------------------------------------------------------

  sessionState(): SessionState {
    return this.sessions.state();
  }

  onSessionState(listener: (state: SessionState) => void): Unsubscribe {
    return this.sessions.onState(listener);
  }

  sessionTimeoutMs(): number {
    return this.sessions.sessionTimeoutMs();
  }

  /** The current ZooKeeper session id (`0x…`), for logs and tests; undefined before start. */
  sessionId(): string | undefined {
    return this.sessions.sessionIdHex();
  }

  // ---- internals -------------------------------------------------------------------------

  private resyncAll(): void {
    this.nodesWatch?.resync();
    this.partitionsWatch?.resync();
    for (const election of [...this.elections]) election.kick();
  }

  private connectedClient(): ZkClient | undefined {
    return this.sessions.connectedClient();
  }

  /** The current session for an operation (it waits, bounded, if not connected). */
  private client(): ZkClient {
    this.assertNotClosed();
    const zk = this.sessions.client();
    if (!zk) throw new MomError('unavailable', 'ZooKeeper coordinator is not started: call start() first');
    return zk;
  }

  /** Runs `fn` on the current session; a synchronous throw (not started, closed) becomes a rejection. */
  private async withClient<T>(fn: (zk: ZkClient) => Promise<T>): Promise<T> {
    return fn(this.client());
  }

  private assertNotClosed(): void {
    if (this.sessions.closed || this.closing) throw this.closedError();
  }

  private async ensureLayout(zk: ZkClient): Promise<void> {
    for (const path of this.layout.parents) await zk.ensurePath(path);
    // Epoch 0 at znode version 0: see controller-election.ts for why they stay equal.
    await zk.create(this.layout.controllerEpoch, encodeEpoch(0), CreateMode.PERSISTENT);
  }

  /** Children of `dir` and their decoded data; children that vanish meanwhile are skipped. */
  private async readDirectory<T>(dir: string, decode: (name: string, data: Buffer, stat: Stat) => T | undefined): Promise<T[]> {
    const zk = this.client();
    const names = (await zk.getChildren(dir)) ?? [];
    const values: Array<T | undefined> = await Promise.all(
      names.map(async (name): Promise<T | undefined> => {
        const node = await zk.getData(`${dir}/${name}`);
        if (!node) return undefined;
        const value = decode(name, node.data, node.stat);
        if (value === undefined) this.log.warn('ignoring a znode with unexpected data', { path: `${dir}/${name}` });
        return value;
      }),
    );
    return values.filter((v): v is T => v !== undefined);
  }

  private malformed(path: string, data: Buffer): MomError {
    return new MomError('internal', `${path} in ZooKeeper holds unexpected data: ${JSON.stringify(data.toString('utf8').slice(0, 200))}`);
  }

  private closedError(): MomError {
    return new MomError('unavailable', 'ZooKeeper coordinator is closed', { retryable: false });
  }
}

function byId(a: NodeInfo, b: NodeInfo): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function byPartition(a: PartitionState, b: PartitionState): number {
  return a.partition - b.partition;
}
