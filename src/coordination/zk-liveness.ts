/**
 * What node-zookeeper-client leaves out, and the Java client does: noticing a connection that
 * went quiet, and stopping for good. All access to the library's private ConnectionManager
 * (lib/ConnectionManager.js in node-zookeeper-client 1.x) is in this file.
 *
 * - Heartbeat: the library sends pings but never checks that answers come back. If nothing
 *   has come from the server for 2/3 of the session timeout (the Java client's read timeout),
 *   the socket is dropped and the library reconnects. DESIGN §4: a node must learn that it
 *   is cut off, so that it can fence itself.
 * - Handshake deadline: the library stops timing a connection attempt once TCP connects, so
 *   a server that accepts the socket and never answers the session request (seen with
 *   ZooKeeper 3.8 for connections accepted while it starts) would hold the client forever.
 * - Hard stop: close() on a client that is not connected would write to a dead or missing
 *   socket, and a reconnect already scheduled would open a new one after "close".
 */
import type { Socket } from 'node:net';
import { Exception, type Client } from 'node-zookeeper-client';
import type { Logger } from '../runtime/logger';

/** ConnectionManager states (lib/ConnectionManager.js STATES). */
export const CM_CONNECTING = 1;
export const CM_CLOSING = -1;
export const CM_CLOSED = -2;

export interface ConnectionManagerInternals {
  state: number;
  socket?: Socket;
  connect: () => void;
  /** Bound to each new socket's 'connect' event at connect time, so an own property replaces it. */
  onSocketConnected: () => void;
  setState: (state: number) => void;
  on(event: 'state', listener: (state: number) => void): void;
  removeListener(event: 'state', listener: (state: number) => void): void;
}

export function connectionManagerOf(client: Client): ConnectionManagerInternals | undefined {
  const cm = (client as unknown as { connectionManager?: ConnectionManagerInternals }).connectionManager;
  return cm && typeof cm.setState === 'function' && typeof cm.onSocketConnected === 'function' ? cm : undefined;
}

export interface LivenessOptions {
  connectString: string;
  /** The requested session timeout (the handshake deadline is derived from it). */
  sessionTimeoutMs: number;
  /** Upper bound of the library's wait between two passes over the servers. */
  spinDelayMs: number;
  log: Logger;
}

export class LivenessGuard {
  private readonly cm: ConnectionManagerInternals | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private heartbeatInFlight = false;
  private handshakeTimer: NodeJS.Timeout | undefined;
  /** When the server last answered anything. */
  private lastHeard = 0;
  private stopped = false;

  constructor(
    private readonly client: Client,
    private readonly options: LivenessOptions,
  ) {
    this.cm = connectionManagerOf(client);
  }

  /** Starts timing handshakes; call before the client connects. */
  async start(): Promise<void> {
    this.watchHandshakes();
  }

  /** Any answer from the server: the connection is alive. */
  heard(): void {
    this.lastHeard = Date.now();
  }

  /** A session is established with `timeoutMs` (the negotiated timeout). */
  connected(timeoutMs: number): void {
    this.clearHandshake();
    this.stopHeartbeat();
    if (this.stopped) return;
    const silenceLimit = Math.floor((timeoutMs * 2) / 3);
    this.heard();
    this.heartbeat = setInterval(() => this.beat(silenceLimit), Math.max(10, Math.floor(timeoutMs / 6)));
    this.heartbeat.unref();
  }

  disconnected(): void {
    this.stopHeartbeat();
  }

  /** No more reconnection attempts; the socket, and any opened after, is destroyed. Idempotent. */
  async close(): Promise<void> {
    this.stopped = true;
    this.stopHeartbeat();
    this.clearHandshake();
    const cm = this.cm;
    if (!cm) return;
    cm.connect = () => {};
    if (cm.state !== CM_CLOSED) cm.setState(CM_CLOSING);
    cm.socket?.destroy();
    // A reconnect may already be scheduled (up to spinDelay away) and will open one more socket.
    setTimeout(() => cm.socket?.destroy(), this.options.spinDelayMs + 20);
  }

  /** Resolves once the library has closed the session (CLOSE_SESSION answered), or after `timeoutMs`. */
  whenClosed(timeoutMs: number): Promise<void> {
    const cm = this.cm;
    if (!cm || cm.state === CM_CLOSED) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const onState = (state: number): void => {
        if (state === CM_CLOSED) finish();
      };
      const finish = (): void => {
        clearTimeout(timer);
        cm.removeListener('state', onState);
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      cm.on('state', onState);
    });
  }

  private beat(silenceLimit: number): void {
    const silentFor = Date.now() - this.lastHeard;
    if (silentFor > silenceLimit) {
      this.options.log.warn('ZooKeeper stopped answering; dropping the connection', {
        connectString: this.options.connectString,
        silentForMs: silentFor,
      });
      this.heard(); // one drop per silence
      this.cm?.socket?.destroy();
      return;
    }
    if (this.heartbeatInFlight) return;
    this.heartbeatInFlight = true;
    this.client.exists('/', (error) => {
      this.heartbeatInFlight = false;
      const code = error && typeof (error as Exception).getCode === 'function' ? (error as Exception).getCode() : undefined;
      if (code !== Exception.CONNECTION_LOSS) this.heard();
    });
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.heartbeatInFlight = false;
  }

  /** Once TCP connects, the session request must be answered within 1/3 of the session timeout (≥ 1 s). */
  private watchHandshakes(): void {
    const cm = this.cm;
    if (!cm) return;
    const original = cm.onSocketConnected;
    const deadlineMs = Math.max(1_000, Math.floor(this.options.sessionTimeoutMs / 3));
    cm.onSocketConnected = () => {
      const socket = cm.socket;
      this.clearHandshake();
      this.handshakeTimer = setTimeout(() => {
        this.handshakeTimer = undefined;
        if (this.stopped || cm.state !== CM_CONNECTING || cm.socket !== socket) return;
        this.options.log.warn('ZooKeeper accepted the connection but did not answer the session request; reconnecting', {
          connectString: this.options.connectString,
          waitedMs: deadlineMs,
        });
        socket?.destroy();
      }, deadlineMs);
      original.call(cm);
    };
  }

  private clearHandshake(): void {
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
  }
}
