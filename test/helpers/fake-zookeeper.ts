/**
 * An in-memory stand-in for ZooKeeper, for unit tests of recipes that run over ZkClient
 * (src/coordination/zk-client.ts) without a server: znodes with data and versions, sequential
 * and ephemeral nodes, one-shot watches, atomic multi-operations, and sessions that can expire.
 * It implements what the recipes use, with ZooKeeper's semantics for it; tests of the real
 * thing run against a real ZooKeeper (./zookeeper.ts).
 *
 * A test can also make the next create succeed on the server while its answer is lost (as when
 * the connection drops mid-call), to exercise a recipe's recovery from that.
 */
import { CreateMode, Event, Exception, type Stat } from 'node-zookeeper-client';
import { MomError } from '../../src/core/errors';
import type { MultiOp, MultiResult, ZkClient, ZkClientState, ZkWatcher } from '../../src/coordination/zk-client';
import type { SessionHost } from '../../src/coordination/zk-watch';

interface Znode {
  data: Buffer;
  version: number;
  owner: FakeSession | undefined;
}

type ZnodeEvent = 'created' | 'deleted' | 'changed';

export class FakeZooKeeper {
  readonly znodes = new Map<string, Znode>();
  private sequence = 0;
  private readonly nodeWatches = new Map<string, Set<ZkWatcher>>();
  private readonly childWatches = new Map<string, Set<ZkWatcher>>();
  constructor(...persistent: string[]) {
    for (const path of persistent) this.znodes.set(path, { data: Buffer.alloc(0), version: 0, owner: undefined });
  }

  session(): FakeSession {
    return new FakeSession(this);
  }

  /** The children of `path` in `nodes` (the live tree by default), sorted by name. */
  children(path: string, nodes: ReadonlyMap<string, Znode> = this.znodes): string[] {
    const prefix = `${path}/`;
    return [...nodes.keys()].filter((p) => p.startsWith(prefix) && !p.slice(prefix.length).includes('/')).map((p) => p.slice(prefix.length)).sort();
  }

  /** Writes a node as an operator would by hand (a new version, no owner). */
  write(path: string, data: string): void {
    const node = this.znodes.get(path);
    if (node) this.apply({ op: 'setData', path, data: Buffer.from(data), version: -1 }, undefined);
    else this.apply({ op: 'create', path, data: Buffer.from(data), mode: CreateMode.PERSISTENT }, undefined);
  }

  watch(kind: 'node' | 'children', path: string, watcher: ZkWatcher): void {
    const table = kind === 'node' ? this.nodeWatches : this.childWatches;
    let set = table.get(path);
    if (!set) table.set(path, (set = new Set()));
    set.add(watcher);
  }

  /** The ZooKeeper error code `op` would fail with on `nodes` (the live tree by default), or undefined if it would succeed. */
  check(op: MultiOp, nodes: ReadonlyMap<string, Znode> = this.znodes): number | undefined {
    const node = nodes.get(op.path);
    if (op.op === 'create') {
      if (node && op.mode !== CreateMode.EPHEMERAL_SEQUENTIAL && op.mode !== CreateMode.PERSISTENT_SEQUENTIAL) return Exception.NODE_EXISTS;
      const parent = op.path.slice(0, op.path.lastIndexOf('/'));
      return parent === '' || nodes.has(parent) ? undefined : Exception.NO_NODE;
    }
    if (!node) return Exception.NO_NODE;
    if (op.version !== -1 && op.version !== node.version) return Exception.BAD_VERSION;
    if (op.op === 'remove' && this.children(op.path, nodes).length > 0) return Exception.NOT_EMPTY;
    return undefined;
  }

  /**
   * The index and code of the first of `ops` that would fail, each checked against the tree the
   * ones before it leave; undefined if all of them would succeed. Changes nothing.
   */
  checkAll(ops: MultiOp[]): { index: number; code: number } | undefined {
    const scratch = new Map([...this.znodes].map(([path, node]) => [path, { ...node }]));
    for (let index = 0; index < ops.length; index++) {
      const op = ops[index]!;
      const code = this.check(op, scratch);
      if (code !== undefined) return { index, code };
      if (op.op === 'create') scratch.set(op.path, { data: op.data, version: 0, owner: undefined });
      else if (op.op === 'setData') scratch.get(op.path)!.version++;
      else if (op.op === 'remove') scratch.delete(op.path);
    }
    return undefined;
  }

  /** Applies an operation `check` accepted; answers the path (created) or the stat. */
  apply(op: MultiOp, owner: FakeSession | undefined): { path?: string; stat?: Stat } {
    switch (op.op) {
      case 'check':
        return { stat: this.stat(op.path) };
      case 'create': {
        const sequential = op.mode === CreateMode.EPHEMERAL_SEQUENTIAL || op.mode === CreateMode.PERSISTENT_SEQUENTIAL;
        const ephemeral = op.mode === CreateMode.EPHEMERAL || op.mode === CreateMode.EPHEMERAL_SEQUENTIAL;
        const path = sequential ? `${op.path}${String(this.sequence++).padStart(10, '0')}` : op.path;
        this.znodes.set(path, { data: op.data, version: 0, owner: ephemeral ? owner : undefined });
        this.changed(path, 'created');
        return { path };
      }
      case 'setData': {
        const node = this.znodes.get(op.path)!;
        node.data = op.data;
        node.version++;
        this.changed(op.path, 'changed');
        return { stat: this.stat(op.path) };
      }
      case 'remove':
        this.znodes.delete(op.path);
        this.changed(op.path, 'deleted');
        return {};
    }
  }

  stat(path: string): Stat {
    const node = this.znodes.get(path)!;
    const zero = Buffer.alloc(8);
    return {
      czxid: zero,
      mzxid: zero,
      ctime: zero,
      mtime: zero,
      version: node.version,
      cversion: 0,
      aversion: 0,
      ephemeralOwner: zero,
      dataLength: node.data.length,
      numChildren: this.children(path).length,
      pzxid: zero,
    };
  }

  /** Watches fire once, after the change (as ZooKeeper delivers them, asynchronously). */
  private changed(path: string, what: ZnodeEvent): void {
    const fire = (table: Map<string, Set<ZkWatcher>>, key: string, type: number) => {
      const watchers = table.get(key);
      if (!watchers) return;
      table.delete(key);
      const event = new Event(type, 'fake', key);
      for (const watcher of watchers) queueMicrotask(() => watcher(event));
    };
    fire(this.nodeWatches, path, what === 'created' ? Event.NODE_CREATED : what === 'deleted' ? Event.NODE_DELETED : Event.NODE_DATA_CHANGED);
    if (what !== 'changed') fire(this.childWatches, path.slice(0, path.lastIndexOf('/')), Event.NODE_CHILDREN_CHANGED);
  }
}

/** A coordinator's view of its sessions (SessionHost): the current one while connected; a new one after expiry. */
export class FakeSessionHost implements SessionHost {
  constructor(public session: FakeSession) {}

  connectedClient(): ZkClient | undefined {
    return this.session.state === 'connected' ? this.session.client() : undefined;
  }
}

/** One session: the operations of ZkClient the recipes use, and expiry. */
export class FakeSession {
  state: ZkClientState = 'connected';
  /** Operations this session ran, by name (`getChildren /mom/...`). */
  readonly calls: string[] = [];
  private loseNextCreateAnswer = false;

  constructor(private readonly zk: FakeZooKeeper) {}

  /** This session as the ZkClient a recipe takes. */
  client(): ZkClient {
    // The fake implements the part of ZkClient the recipes call (this class); the rest is never reached.
    return this as unknown as ZkClient;
  }

  /** The next create is applied by the server, but this session gets an error instead of its answer. */
  loseNextCreate(): void {
    this.loseNextCreateAnswer = true;
  }

  /** ZooKeeper expires the session: its ephemeral nodes go, and it can do nothing more. */
  expire(): void {
    this.state = 'expired';
    for (const [path, node] of [...this.zk.znodes]) if (node.owner === this) this.zk.apply({ op: 'remove', path, version: -1 }, undefined);
  }

  currentState(): ZkClientState {
    return this.state;
  }

  async getChildren(path: string, watcher?: ZkWatcher): Promise<string[] | undefined> {
    this.begin(`getChildren ${path}`);
    if (!this.zk.znodes.has(path)) return undefined;
    if (watcher) this.zk.watch('children', path, watcher);
    return this.zk.children(path);
  }

  async getData(path: string, watcher?: ZkWatcher): Promise<{ data: Buffer; stat: Stat } | undefined> {
    this.begin(`getData ${path}`);
    const node = this.zk.znodes.get(path);
    if (!node) return undefined;
    if (watcher) this.zk.watch('node', path, watcher);
    return { data: node.data, stat: this.zk.stat(path) };
  }

  async exists(path: string, watcher?: ZkWatcher): Promise<Stat | undefined> {
    this.begin(`exists ${path}`);
    if (watcher) this.zk.watch('node', path, watcher);
    return this.zk.znodes.has(path) ? this.zk.stat(path) : undefined;
  }

  async create(path: string, data: Buffer, mode: number): Promise<string | undefined> {
    this.begin(`create ${path}`);
    const op: MultiOp = { op: 'create', path, data, mode };
    const refused = this.zk.check(op);
    if (refused === Exception.NODE_EXISTS) return undefined;
    if (refused !== undefined) throw new MomError('unavailable', `fake ZooKeeper refused create ${path}: ${refused}`);
    const created = this.zk.apply(op, this).path;
    if (this.loseNextCreateAnswer) {
      this.loseNextCreateAnswer = false;
      throw new MomError('unavailable', `the answer to create ${path} was lost with the connection`);
    }
    return created;
  }

  async remove(path: string, version = -1): Promise<boolean | 'bad_version'> {
    this.begin(`remove ${path}`);
    const refused = this.zk.check({ op: 'remove', path, version });
    if (refused === Exception.NO_NODE) return false;
    if (refused === Exception.BAD_VERSION) return 'bad_version';
    this.zk.apply({ op: 'remove', path, version }, this);
    return true;
  }

  /** All or nothing: each operation is checked against the tree the ones before it leave. */
  async multi(ops: MultiOp[]): Promise<MultiResult> {
    this.begin(`multi ${ops.map((o) => `${o.op} ${o.path}`).join(', ')}`);
    const failed = this.zk.checkAll(ops);
    if (failed) return { ok: false, ...failed };
    return { ok: true, results: ops.map((op) => this.zk.apply(op, this)) };
  }

  private begin(call: string): void {
    if (this.state !== 'connected') throw new MomError('unavailable', `fake ZooKeeper session is ${this.state}`);
    this.calls.push(call);
  }
}
