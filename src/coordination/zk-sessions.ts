/**
 * The ZooKeeper coordinator's sessions (DESIGN §4). The state seen by listeners follows the
 * session: `connected`, `disconnected` (the session may still be alive; the library
 * reconnects by itself), `expired` (ZooKeeper ended it, and with it our ephemeral nodes and
 * watches). On expiry a new session starts at once; `hooks.prepare` puts back what the old
 * one held (layout, registration), and only then is `connected` reported and
 * `hooks.resync` asked to read watched data again.
 */
import { MomError } from '../core/errors';
import type { Logger } from '../runtime/logger';
import type { SessionState, Unsubscribe } from './coordinator';
import { ZkClient, type ZkClientState } from './zk-client';

export interface ZkSessionHooks {
  /** Makes a new session usable: on the first, the layout; after an expiry, also what the old one held. */
  prepare(zk: ZkClient, restoring: boolean): Promise<void>;
  /** Connected again (the same session, or a restored one): read watched data again. */
  resync(): void;
  /** The session ended, with its ephemeral nodes and watches. */
  expired(): void;
}

export interface ZkSessionsOptions {
  connectString: string;
  /** Requested session timeout; the ensemble may grant another. */
  sessionTimeoutMs: number;
  connectTimeoutMs: number;
  operationTimeoutMs: number;
  log: Logger;
  hooks: ZkSessionHooks;
}

type Phase = 'new' | 'running' | 'closed';

const RESTORE_RETRY_MS = 500;

export class ZkSessions {
  private phase: Phase = 'new';
  /** The current session; replaced when one expires. */
  private zk: ZkClient | undefined;
  /** Sessions whose registration and watches are in place. */
  private readonly restored = new WeakSet<ZkClient>();
  private restoring: ZkClient | undefined;
  private restoreTimer: NodeJS.Timeout | undefined;
  private current: SessionState = 'disconnected';
  private readonly listeners = new Set<(state: SessionState) => void>();

  constructor(private readonly options: ZkSessionsOptions) {}

  get running(): boolean {
    return this.phase === 'running';
  }

  get closed(): boolean {
    return this.phase === 'closed';
  }

  /** Connects the first session and prepares it; rejects (having closed it) when that fails. */
  async start(closedError: () => MomError): Promise<void> {
    const zk = this.newSession();
    try {
      await zk.waitConnected(this.options.connectTimeoutMs);
      await this.options.hooks.prepare(zk, false);
      if (this.phase === 'closed') throw closedError();
    } catch (error) {
      if (this.zk === zk) this.zk = undefined;
      await zk.close();
      throw error;
    }
    this.restored.add(zk);
    this.phase = 'running';
    this.options.log.info('connected to ZooKeeper', { session: zk.sessionIdHex(), sessionTimeoutMs: zk.sessionTimeoutMs() });
    this.onClientState(zk, zk.currentState());
  }

  state(): SessionState {
    return this.current;
  }

  onState(listener: (state: SessionState) => void): Unsubscribe {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  sessionTimeoutMs(): number {
    return this.zk?.sessionTimeoutMs() ?? this.options.sessionTimeoutMs;
  }

  sessionIdHex(): string | undefined {
    return this.zk?.sessionIdHex();
  }

  /** The current session if it is connected now (watches read through it). */
  connectedClient(): ZkClient | undefined {
    const zk = this.zk;
    return this.phase === 'running' && zk?.isConnected() ? zk : undefined;
  }

  /** The current session for an operation (it waits, bounded, if not connected); undefined before start. */
  client(): ZkClient | undefined {
    return this.phase === 'running' ? this.zk : undefined;
  }

  private newSession(): ZkClient {
    const zk = new ZkClient({
      connectString: this.options.connectString,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      operationTimeoutMs: this.options.operationTimeoutMs,
      logger: this.options.log,
    });
    this.zk = zk;
    zk.onState((state) => this.onClientState(zk, state));
    zk.connect();
    return zk;
  }

  private onClientState(zk: ZkClient, state: ZkClientState): void {
    if (zk !== this.zk || this.phase !== 'running') return;
    if (state === 'connected') {
      if (this.restored.has(zk)) {
        this.setState('connected');
        this.options.hooks.resync();
      } else {
        void this.restore(zk);
      }
    } else if (state === 'disconnected') {
      this.setState('disconnected');
    } else if (state === 'expired') {
      this.options.log.warn('ZooKeeper session expired; starting a new one', { session: zk.sessionIdHex() });
      this.setState('expired');
      this.options.hooks.expired();
      void zk.close();
      this.newSession();
    }
  }

  /** A new session after an expiry: put back what the old one held, then report `connected`. */
  private async restore(zk: ZkClient): Promise<void> {
    if (this.restoring === zk) return;
    this.restoring = zk;
    try {
      await this.options.hooks.prepare(zk, true);
      if (zk !== this.zk || this.phase !== 'running') return;
      this.restored.add(zk);
      this.options.log.info('ZooKeeper session re-established', { session: zk.sessionIdHex() });
      if (zk.isConnected()) {
        this.setState('connected');
        this.options.hooks.resync();
      }
    } catch (error) {
      if (zk !== this.zk || this.phase !== 'running') return;
      this.options.log.warn('could not restore the ZooKeeper registration; retrying', { error: error as Error });
      // Disconnected: the next `connected` restores. Connected: retry shortly.
      if (zk.isConnected() && !this.restoreTimer) {
        this.restoreTimer = setTimeout(() => {
          this.restoreTimer = undefined;
          if (zk === this.zk && zk.isConnected() && !this.restored.has(zk)) void this.restore(zk);
        }, RESTORE_RETRY_MS);
      }
    } finally {
      if (this.restoring === zk) this.restoring = undefined;
    }
  }

  private setState(state: SessionState): void {
    if (this.current === state) return;
    this.current = state;
    this.options.log.info('ZooKeeper session state', { state });
    for (const listener of [...this.listeners]) {
      try {
        listener(state);
      } catch (error) {
        this.options.log.error('session state listener failed', { error: error as Error });
      }
    }
  }

  /** Ends the session: ZooKeeper removes its ephemeral nodes at once. Idempotent. */
  async close(): Promise<void> {
    this.phase = 'closed';
    if (this.restoreTimer) clearTimeout(this.restoreTimer);
    this.listeners.clear();
    const zk = this.zk;
    this.zk = undefined;
    await zk?.close();
    this.current = 'disconnected';
  }
}
