/**
 * The one coordination seam (DESIGN §4). Two implementations: `embedded` (in-process, one
 * node, state in a file in the data dir) and `zookeeper`. Nothing outside src/coordination/
 * knows which one it has.
 */

/** `/mom/nodes/<id>`: an ephemeral registration. */
export interface NodeInfo {
  id: string;
  /** Client API base URL, e.g. `http://127.0.0.1:7001`. */
  http: string;
  /** Replication endpoint `host:port`, or "" for a node without a replicator. */
  grpc: string;
  version: string;
}

/** `/mom/partitions/<p>` plus the version it was read at (the CAS token). */
export interface PartitionState {
  partition: number;
  replicas: string[];
  leader: string | null;
  leaderEpoch: number;
  isr: string[];
  /** Znode version this state was read at; writes compare-and-set against it. */
  version: number;
}

export type PartitionAssignment = Omit<PartitionState, 'version'>;

export interface ExchangeInfo {
  name: string;
  createdAt: string;
}

/** `/mom/cluster`: settings fixed when the cluster is created. */
export interface ClusterSettings {
  partitions: number;
}

export type SessionState = 'connected' | 'disconnected' | 'expired';

export type Unsubscribe = () => void;

/**
 * A write fenced by the controller epoch: it is refused with a MomError `stale_epoch` (not
 * retryable) if another controller has been elected since `controllerEpoch` was won.
 */
export interface ControllerFence {
  controllerEpoch: number;
}

/**
 * One candidacy. Until it wins it stays in the queue, across reconnections and session
 * expiries. Once won, losing the session ends it for good: `onDeposed` fires and the owner
 * campaigns again with a new one.
 */
export interface ControllerElection {
  /**
   * Resolves when this candidate becomes the active controller, with the new controller epoch.
   * Rejects (MomError `unavailable`) if the candidacy is withdrawn or the coordinator closes first.
   */
  readonly elected: Promise<number>;
  /** Whether this candidate currently holds the controller role. */
  isLeader(): boolean;
  /** Called once if leadership is lost after being won (session loss); not on resign() or close(). */
  onDeposed(listener: () => void): Unsubscribe;
  /** Withdraws the candidacy (and the role, if held). Idempotent. */
  resign(): Promise<void>;
}

export interface Coordinator {
  readonly kind: 'embedded' | 'zookeeper';

  start(): Promise<void>;
  /** Leaves the cluster (ephemeral nodes go at once) and releases resources. Idempotent. */
  close(): Promise<void>;

  /**
   * Reads the cluster settings, creating them with `proposed` if the cluster is new. The
   * first creator wins; everyone else gets what it wrote.
   */
  ensureCluster(proposed: ClusterSettings): Promise<ClusterSettings>;

  // Membership
  registerNode(info: NodeInfo): Promise<void>;
  /**
   * Takes this node's registration away while the session lives on, so that the cluster
   * treats it as gone (a node whose disk refuses writes: DESIGN §5); `registerNode` brings it
   * back. A session restored meanwhile does not register it again. Idempotent.
   */
  withdrawNode(): Promise<void>;
  listNodes(): Promise<NodeInfo[]>;
  /** Listener gets the full list now and on every change. */
  watchNodes(listener: (nodes: NodeInfo[]) => void): Unsubscribe;

  // Partition map. Every write is a compare-and-set on the version (DESIGN §4).
  listPartitions(): Promise<PartitionState[]>;
  getPartition(partition: number): Promise<PartitionState | undefined>;
  /** Listener gets the full map now and on every change. */
  watchPartitions(listener: (states: PartitionState[]) => void): Unsubscribe;
  /** Creates the partition's state if absent; false if it already existed. A failed fence rejects (see ControllerFence). */
  createPartition(state: PartitionAssignment, fence?: ControllerFence): Promise<boolean>;
  /**
   * Writes `next` if the stored version is still `expectedVersion`; the new state, or undefined
   * on conflict (another version, or no such partition). A failed fence rejects (see ControllerFence).
   */
  casPartition(next: PartitionAssignment, expectedVersion: number, fence?: ControllerFence): Promise<PartitionState | undefined>;

  // Exchanges (cluster-wide metadata)
  createExchange(name: string): Promise<{ created: boolean; exchange: ExchangeInfo }>;
  getExchange(name: string): Promise<ExchangeInfo | undefined>;
  listExchanges(): Promise<ExchangeInfo[]>;
  /** True if it existed. */
  deleteExchange(name: string): Promise<boolean>;

  // Controller election (ephemeral sequential recipe on /controller)
  campaign(candidateId: string): ControllerElection;

  // Session. After `expired` the coordinator opens a new session by itself, registers this
  // node again and re-arms the watches; `connected` follows once that is done.
  sessionState(): SessionState;
  onSessionState(listener: (state: SessionState) => void): Unsubscribe;
  /** The session timeout the ensemble granted, in ms (a leader fences itself after this). */
  sessionTimeoutMs(): number;
}
