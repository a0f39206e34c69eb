/**
 * A watched directory of znodes: the children of one path and the data of each child, kept
 * current with ZooKeeper watches and handed to listeners as one sorted list, first as soon as
 * it is read and then after every change.
 *
 * ZooKeeper watches fire once, so every read that follows an event sets the watch again (a
 * watch set by a read fires on the first change after that read, so nothing is missed). An
 * event only names what changed: a child-list event re-reads the list and the data of new
 * children; a data event re-reads that one child. Within a session the client library
 * re-registers its watches after a reconnect; a new session has none, so the owner calls
 * `resync()` on every (re)connection and the whole directory is read again.
 */
import type { Event, Stat } from 'node-zookeeper-client';
import type { Logger } from '../runtime/logger';
import type { Unsubscribe } from './coordinator';
import type { ZkClient, ZkWatcher } from './zk-client';

export interface SessionHost {
  /** The current session's client when connected, undefined otherwise. */
  connectedClient(): ZkClient | undefined;
}

export interface WatchedDirectory<T> {
  path: string;
  /** Undefined skips the child (malformed data is logged and ignored). */
  decode(name: string, data: Buffer, stat: Stat): T | undefined;
  compare(a: T, b: T): number;
}

const RETRY_DELAY_MS = 500;

export class ChildrenWatch<T> {
  private readonly listeners = new Set<(items: T[]) => void>();
  private cache = new Map<string, T>();
  private loaded = false;
  private lastDelivered: string | undefined;
  private closed = false;

  // Pending work, coalesced: several events before the next read cost one read.
  private reloadAll = true;
  private relist = false;
  private readonly dirty = new Set<string>();
  private running = false;
  private kickAgain = false;
  private retryTimer: NodeJS.Timeout | undefined;

  // Watcher functions are stable per session, so re-arming never stacks duplicates.
  private watchClient: ZkClient | undefined;
  private childWatcher: ZkWatcher = () => {};
  private dataWatchers = new Map<string, ZkWatcher>();

  constructor(
    private readonly host: SessionHost,
    private readonly dir: WatchedDirectory<T>,
    private readonly log: Logger,
  ) {}

  get listenerCount(): number {
    return this.listeners.size;
  }

  add(listener: (items: T[]) => void): Unsubscribe {
    this.listeners.add(listener);
    if (this.loaded) {
      const snapshot = this.snapshot();
      setImmediate(() => {
        if (this.listeners.has(listener)) this.call(listener, snapshot);
      });
    } else {
      this.kick();
    }
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Reads everything again and re-arms every watch (after a reconnect or a new session). */
  resync(): void {
    this.reloadAll = true;
    this.kick();
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.kickAgain = true;
      return;
    }
    const client = this.host.connectedClient();
    if (!client) return; // resync() follows the next connection
    this.running = true;
    this.kickAgain = false;
    void this.drain(client).finally(() => {
      this.running = false;
      if (this.kickAgain) this.kick();
    });
  }

  private hasWork(): boolean {
    return this.reloadAll || this.relist || this.dirty.size > 0;
  }

  private async drain(client: ZkClient): Promise<void> {
    this.bind(client);
    try {
      while (!this.closed && this.hasWork() && this.host.connectedClient() === client) {
        if (this.reloadAll || this.relist) await this.readList(client);
        else await this.readDirty(client);
      }
      if (!this.closed && this.loaded) this.deliver();
    } catch (error) {
      this.reloadAll = true;
      if (this.closed) return;
      this.log.debug('watch read failed; will read again', { path: this.dir.path, error: error as Error });
      // Not connected: resync() comes with the next connection. Connected: try again soon.
      if (this.host.connectedClient() === client && !this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.kick();
        }, RETRY_DELAY_MS);
      }
    }
  }

  private async readList(client: ZkClient): Promise<void> {
    const all = this.reloadAll;
    this.reloadAll = false;
    this.relist = false;
    const names = (await client.getChildren(this.dir.path, this.childWatcher)) ?? [];
    const next = new Map<string, T>();
    const toRead: string[] = [];
    for (const name of names) {
      const known = this.cache.get(name);
      if (!all && known !== undefined) next.set(name, known);
      else toRead.push(name);
    }
    const values = await Promise.all(toRead.map((name) => this.readChild(client, name)));
    toRead.forEach((name, i) => {
      const value = values[i];
      if (value !== undefined) next.set(name, value);
    });
    for (const name of this.dataWatchers.keys()) if (!names.includes(name)) this.dataWatchers.delete(name);
    this.cache = next;
    this.loaded = true;
  }

  private async readDirty(client: ZkClient): Promise<void> {
    const names = [...this.dirty];
    this.dirty.clear();
    const values = await Promise.all(names.map((name) => this.readChild(client, name)));
    names.forEach((name, i) => {
      const value = values[i];
      if (value === undefined) this.cache.delete(name);
      else this.cache.set(name, value);
    });
  }

  private async readChild(client: ZkClient, name: string): Promise<T | undefined> {
    const node = await client.getData(`${this.dir.path}/${name}`, this.dataWatcher(name));
    if (!node) return undefined;
    const value = this.dir.decode(name, node.data, node.stat);
    if (value === undefined) this.log.warn('ignoring a znode with unexpected data', { path: `${this.dir.path}/${name}` });
    return value;
  }

  private bind(client: ZkClient): void {
    if (this.watchClient === client) return;
    this.watchClient = client;
    this.dataWatchers = new Map();
    this.childWatcher = (event: Event) => {
      if (this.watchClient !== client) return;
      this.log.debug('watch fired', { path: event.getPath(), event: event.getName() });
      this.relist = true;
      this.kick();
    };
  }

  private dataWatcher(name: string): ZkWatcher {
    let watcher = this.dataWatchers.get(name);
    if (!watcher) {
      const client = this.watchClient;
      watcher = () => {
        if (this.watchClient !== client) return;
        this.dirty.add(name);
        this.kick();
      };
      this.dataWatchers.set(name, watcher);
    }
    return watcher;
  }

  private snapshot(): T[] {
    return [...this.cache.values()].sort((a, b) => this.dir.compare(a, b));
  }

  private deliver(): void {
    const snapshot = this.snapshot();
    const key = JSON.stringify(snapshot);
    if (key === this.lastDelivered) return;
    this.lastDelivered = key;
    for (const listener of [...this.listeners]) this.call(listener, snapshot.slice());
  }

  private call(listener: (items: T[]) => void, items: T[]): void {
    try {
      listener(items);
    } catch (error) {
      this.log.error('watch listener failed', { path: this.dir.path, error: error as Error });
    }
  }
}
