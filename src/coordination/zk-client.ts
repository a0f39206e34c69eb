/**
 * One ZooKeeper session, as promises. node-zookeeper-client speaks the protocol; this file
 * adds what the coordinator needs on top of it:
 *
 * - every operation has a deadline (the library queues requests while disconnected and
 *   would otherwise wait forever) and fails as a MomError `unavailable`;
 * - the outcomes a caller acts on (no node, node exists, bad version) are values, not errors;
 * - a connection that goes quiet is noticed, and a close() never hangs and never leaves a
 *   socket behind (zk-liveness.ts).
 *
 * A ZkClient is one session: when the session expires the object is finished and the
 * coordinator makes a new one. One concept past 350 lines: one wrapper per ZooKeeper
 * operation, each small.
 */
import * as zookeeper from 'node-zookeeper-client';
import { MomError } from '../core/errors';
import type { Logger } from '../runtime/logger';
import { LivenessGuard } from './zk-liveness';

export type ZkClientState = 'connecting' | 'connected' | 'disconnected' | 'expired' | 'closed';

export type ZkWatcher = (event: zookeeper.Event) => void;

export interface ZkClientOptions {
  connectString: string;
  /** Requested session timeout; the ensemble clamps it to [2, 20] × tickTime by default. */
  sessionTimeoutMs: number;
  /** Deadline of one operation, including time spent waiting for a connection. */
  operationTimeoutMs: number;
  logger: Logger;
}

/** A ZooKeeper operation that failed; `zkCode` is the ZooKeeper error code, if it has one. */
export class ZkOperationError extends MomError {
  constructor(
    message: string,
    readonly zkCode: number | undefined,
    cause?: unknown,
  ) {
    super('unavailable', message, { cause, details: zkCode === undefined ? undefined : { zookeeper_error: zkCode } });
  }
}

export type MultiOp =
  | { op: 'check'; path: string; version: number }
  | { op: 'create'; path: string; data: Buffer; mode: number }
  | { op: 'setData'; path: string; data: Buffer; version: number }
  | { op: 'remove'; path: string; version: number };

export type MultiResult =
  | { ok: true; results: Array<{ path?: string; stat?: zookeeper.Stat }> }
  /** `index` is the operation that failed, `code` its ZooKeeper error (e.g. Exception.BAD_VERSION). */
  | { ok: false; index: number; code: number };

export type SetDataResult = zookeeper.Stat | 'bad_version' | 'no_node';

const Code = zookeeper.Exception;

const CLOSE_SESSION_TIMEOUT_MS = 2_000;

export class ZkClient {
  readonly client: zookeeper.Client;
  private state: ZkClientState = 'connecting';
  private readonly listeners = new Set<(state: ZkClientState) => void>();
  private readonly pending = new Set<(error: Error) => void>();
  private readonly liveness: LivenessGuard;
  private closing: Promise<void> | undefined;
  private readonly log: Logger;

  constructor(private readonly options: ZkClientOptions) {
    this.log = options.logger;
    // Between two full passes over the servers the library waits up to spinDelay: keep it
    // well under the session timeout so a blip does not cost the session.
    const spinDelayMs = Math.max(50, Math.min(1_000, Math.floor(options.sessionTimeoutMs / 5)));
    this.client = zookeeper.createClient(options.connectString, {
      sessionTimeout: options.sessionTimeoutMs,
      spinDelay: spinDelayMs,
      retries: 0,
    });
    this.liveness = new LivenessGuard(this.client, {
      connectString: options.connectString,
      sessionTimeoutMs: options.sessionTimeoutMs,
      spinDelayMs,
      log: options.logger,
    });
    this.client.on('state', (state) => this.onLibraryState(state));
  }

  connect(): void {
    void this.liveness.start();
    this.client.connect();
  }

  currentState(): ZkClientState {
    return this.state;
  }

  isConnected(): boolean {
    return this.state === 'connected';
  }

  onState(listener: (state: ZkClientState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The negotiated session timeout once connected; the requested one before. */
  sessionTimeoutMs(): number {
    return this.client.getSessionTimeout();
  }

  sessionId(): Buffer {
    return this.client.getSessionId();
  }

  sessionPassword(): Buffer {
    return this.client.getSessionPassword();
  }

  /** Session id as ZooKeeper logs it: `0x…`. */
  sessionIdHex(): string {
    return `0x${this.sessionId().toString('hex').replace(/^0+(?=.)/, '')}`;
  }

  /** Resolves once connected; rejects if that takes longer than `timeoutMs` or the client ends. */
  waitConnected(timeoutMs: number): Promise<void> {
    if (this.state === 'connected') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer);
        unsubscribe();
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(
        () => done(this.unreachable(`no session within ${timeoutMs} ms (is ZooKeeper running?)`)),
        timeoutMs,
      );
      const unsubscribe = this.onState((state) => {
        if (state === 'connected') done();
        else if (state === 'expired' || state === 'closed') done(this.unreachable(`session ${state} while connecting`));
      });
    });
  }

  // ---- operations ------------------------------------------------------------------------

  /** The node's data and stat, or undefined if it does not exist. */
  async getData(path: string, watcher?: ZkWatcher): Promise<{ data: Buffer; stat: zookeeper.Stat } | undefined> {
    try {
      return await this.run<{ data: Buffer; stat: zookeeper.Stat }>('getData', path, (done) => {
        const callback = (error: unknown, data: Buffer, stat: zookeeper.Stat): void =>
          done(error, { data: data ?? Buffer.alloc(0), stat });
        if (watcher) this.client.getData(path, watcher, callback);
        else this.client.getData(path, callback);
      });
    } catch (error) {
      if (isZkCode(error, Code.NO_NODE)) return undefined;
      throw error;
    }
  }

  /** The node's children, or undefined if it does not exist. */
  async getChildren(path: string, watcher?: ZkWatcher): Promise<string[] | undefined> {
    try {
      return await this.run<string[]>('getChildren', path, (done) => {
        const callback = (error: unknown, children: string[]): void => done(error, children);
        if (watcher) this.client.getChildren(path, watcher, callback);
        else this.client.getChildren(path, callback);
      });
    } catch (error) {
      if (isZkCode(error, Code.NO_NODE)) return undefined;
      throw error;
    }
  }

  /** The node's stat, or undefined if it does not exist (the watcher then fires on creation). */
  exists(path: string, watcher?: ZkWatcher): Promise<zookeeper.Stat | undefined> {
    return this.run<zookeeper.Stat | undefined>('exists', path, (done) => {
      const callback = (error: unknown, stat: zookeeper.Stat | null): void => done(error, stat ?? undefined);
      if (watcher) this.client.exists(path, watcher, callback);
      else this.client.exists(path, callback);
    });
  }

  /** The created path (with the sequence suffix for sequential modes), or undefined if it exists. */
  async create(path: string, data: Buffer, mode: number): Promise<string | undefined> {
    try {
      return await this.run<string>('create', path, (done) => {
        this.client.create(path, data, mode, (error, created) => done(error, created));
      });
    } catch (error) {
      if (isZkCode(error, Code.NODE_EXISTS)) return undefined;
      throw error;
    }
  }

  /** Creates `path` and its missing parents as empty persistent nodes. */
  async ensurePath(path: string): Promise<void> {
    let prefix = '';
    for (const part of path.split('/').filter((p) => p !== '')) {
      prefix += `/${part}`;
      await this.create(prefix, Buffer.alloc(0), zookeeper.CreateMode.PERSISTENT);
    }
  }

  /** Writes if the version matches (-1 matches any). */
  async setData(path: string, data: Buffer, version: number): Promise<SetDataResult> {
    try {
      return await this.run<zookeeper.Stat>('setData', path, (done) => {
        this.client.setData(path, data, version, (error, stat) => done(error, stat));
      });
    } catch (error) {
      if (isZkCode(error, Code.BAD_VERSION)) return 'bad_version';
      if (isZkCode(error, Code.NO_NODE)) return 'no_node';
      throw error;
    }
  }

  /** Deletes if the version matches (-1 matches any): true if deleted, false if it was absent. */
  async remove(path: string, version = -1): Promise<boolean | 'bad_version'> {
    try {
      await this.run<void>('remove', path, (done) => this.client.remove(path, version, (error) => done(error)));
      return true;
    } catch (error) {
      if (isZkCode(error, Code.NO_NODE)) return false;
      if (isZkCode(error, Code.BAD_VERSION)) return 'bad_version';
      throw error;
    }
  }

  /** An atomic multi-operation: all of `ops` apply, or none and the first failing one is named. */
  multi(ops: MultiOp[]): Promise<MultiResult> {
    const label = ops.map((o) => `${o.op} ${o.path}`).join(', ');
    return this.run<MultiResult>('multi', label, (done) => {
      const tx = this.client.transaction();
      for (const o of ops) {
        if (o.op === 'check') tx.check(o.path, o.version);
        else if (o.op === 'create') tx.create(o.path, o.data, o.mode);
        else if (o.op === 'setData') tx.setData(o.path, o.data, o.version);
        else tx.remove(o.path, o.version);
      }
      tx.commit((error, results: unknown) => {
        const list = Array.isArray(results) ? (results as Array<{ err?: number; path?: string; stat?: zookeeper.Stat }>) : undefined;
        if (!error) {
          done(null, { ok: true, results: (list ?? []).map((r) => ({ path: r.path, stat: r.stat })) });
          return;
        }
        // A rejected multi answers one result per op; the failing one carries its error code,
        // those after it RUNTIME_INCONSISTENCY. Without results the request itself failed.
        const index = list ? list.findIndex((r) => r.err !== undefined && r.err !== Code.OK) : -1;
        if (list && index >= 0) done(null, { ok: false, index, code: list[index]!.err! });
        else done(error, { ok: false, index: -1, code: zkCodeOf(error) ?? Code.SYSTEM_ERROR });
      });
    });
  }

  // ---- lifecycle -------------------------------------------------------------------------

  /**
   * Ends the session (its ephemeral nodes go at once) if connected; otherwise just drops the
   * connection attempt, and the session's ephemerals go when ZooKeeper expires it. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const wasConnected = this.state === 'connected';
    this.setState('closed');
    for (const reject of [...this.pending]) reject(new ZkOperationError('ZooKeeper client closed', undefined));
    this.pending.clear();
    if (wasConnected) {
      const closed = this.liveness.whenClosed(CLOSE_SESSION_TIMEOUT_MS);
      try {
        this.client.close(); // CLOSE_SESSION: ZooKeeper removes our ephemeral nodes at once
        await closed;
      } catch {
        // the socket is destroyed below either way
      }
    }
    await this.liveness.close();
  }

  // ---- internals -------------------------------------------------------------------------

  private onLibraryState(state: zookeeper.State): void {
    this.log.debug('ZooKeeper client state', { state: state.name, session: this.sessionIdHex() });
    if (this.state === 'closed' || this.state === 'expired') return;
    if (state === zookeeper.State.SYNC_CONNECTED) {
      this.liveness.connected(this.sessionTimeoutMs());
      this.setState('connected');
    } else if (state === zookeeper.State.EXPIRED) {
      void this.liveness.close();
      this.setState('expired');
      for (const reject of [...this.pending]) reject(this.unreachable('session expired', Code.SESSION_EXPIRED));
      this.pending.clear();
    } else if (state === zookeeper.State.DISCONNECTED) {
      this.liveness.disconnected();
      this.setState('disconnected');
    } else if (state === zookeeper.State.AUTH_FAILED) {
      this.log.error('ZooKeeper authentication failed', { connectString: this.options.connectString });
      this.liveness.disconnected();
      this.setState('disconnected');
    } else {
      this.liveness.disconnected();
      // CONNECTED_READ_ONLY: we never ask for read-only sessions; treat as not connected.
      this.setState('disconnected');
    }
  }

  private setState(state: ZkClientState): void {
    if (this.state === state) return;
    this.state = state;
    for (const listener of [...this.listeners]) {
      try {
        listener(state);
      } catch (error) {
        this.log.error('ZooKeeper state listener failed', { error: error as Error });
      }
    }
  }

  /** ZooKeeper answered an operation with an error the caller does not expect. */
  refused(what: string, code: number): ZkOperationError {
    return new ZkOperationError(`ZooKeeper at ${this.options.connectString} refused ${what}: error ${code}`, code);
  }

  private unreachable(reason: string, zkCode?: number, cause?: unknown): ZkOperationError {
    return new ZkOperationError(`ZooKeeper at ${this.options.connectString} is unreachable: ${reason}`, zkCode, cause);
  }

  /** Runs one library call with a deadline; library errors become ZkOperationErrors. */
  private run<T>(op: string, path: string, start: (done: (error: unknown, value?: T) => void) => void): Promise<T> {
    if (this.state === 'closed') return Promise.reject(new ZkOperationError('ZooKeeper client closed', undefined));
    if (this.state === 'expired') return Promise.reject(this.unreachable(`${op} ${path}: session expired`, Code.SESSION_EXPIRED));
    const timeoutMs = this.options.operationTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (error: Error | undefined, value?: T): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.pending.delete(rejectPending);
        if (error) reject(error);
        else resolve(value as T);
      };
      const rejectPending = (error: Error): void => finish(error);
      const timer = setTimeout(
        () => finish(this.unreachable(`${op} ${path} got no answer within ${timeoutMs} ms (its outcome is unknown)`)),
        timeoutMs,
      );
      this.pending.add(rejectPending);
      try {
        start((error, value) => {
          if (zkCodeOf(error) !== Code.CONNECTION_LOSS) this.liveness.heard();
          finish(error ? this.toError(op, path, error) : undefined, value);
        });
      } catch (error) {
        finish(new MomError('internal', `ZooKeeper ${op} ${path} was refused by the client: ${describe(error)}`, { cause: error }));
      }
    });
  }

  private toError(op: string, path: string, error: unknown): ZkOperationError {
    const code = zkCodeOf(error);
    if (code === Code.CONNECTION_LOSS || code === Code.SESSION_EXPIRED || code === Code.OPERATION_TIMEOUT) {
      return this.unreachable(`${op} ${path} failed: ${describe(error)}`, code, error);
    }
    return new ZkOperationError(
      `ZooKeeper at ${this.options.connectString} refused ${op} ${path}: ${describe(error)}`,
      code,
      error,
    );
  }
}

export function zkCodeOf(error: unknown): number | undefined {
  if (error instanceof ZkOperationError) return error.zkCode;
  if (error && typeof (error as { getCode?: unknown }).getCode === 'function') {
    return (error as zookeeper.Exception).getCode();
  }
  return undefined;
}

export function isZkCode(error: unknown, code: number): boolean {
  return zkCodeOf(error) === code;
}

function describe(error: unknown): string {
  if (error && typeof (error as { getName?: unknown }).getName === 'function') return (error as zookeeper.Exception).getName();
  return error instanceof Error ? error.message : String(error);
}
