import type { Dispatcher } from 'undici';
import type { BrokerConfig } from '../../config/settings';
import type { Coordinator, NodeInfo, SessionState, Unsubscribe } from '../../coordination/coordinator';
import { MomError } from '../../core/errors';
import { partitionOf } from '../../core/hash';
import type { ReplicatedCommitLog } from '../../log/replicated-commit-log';
import type { ReplicationPeers } from '../../replication/replication-client';
import { closedError } from '../../runtime/lifecycle';
import type { Logger } from '../../runtime/logger';
import type { Metrics } from '../../runtime/metrics';
import { NodeStore } from '../../store/node-store';
import type { StorageState } from '../../store/storage-health';
import { commitLogFactory } from './commit-log-factory';
import type { UnreadBudget } from './engine/inbox-delivery';
import { InboxMetrics } from './inbox-metrics';
import { NodeMaintenance } from './node-maintenance';
import { registerNodeMetrics, storeWriteObserver } from './node-metrics';
import type { PartitionEngine } from './engine/partition-engine';
import { ReplicaManager } from './replica-manager';

export interface NodeRoleOptions {
  config: BrokerConfig;
  coordinator: Coordinator;
  logger: Logger;
  metrics: Metrics;
  /** The client API URL other processes reach this node at. */
  httpUrl: string;
  /** The replication endpoint, "" without a replicator. */
  grpcAddress: string;
  /** Reaches other nodes over HTTP(S) (one trusting `--tls-ca`); default undici's global dispatcher. */
  peerHttp?: Dispatcher;
  /** Present when the node replicates (cluster): the clients to other nodes' replicators. */
  replication?: { peers: ReplicationPeers };
  version: string;
  /**
   * The disk failed an fdatasync: what this process reads back may differ from the disk, so
   * it must stop at once and start again from what the disk holds (GroupCommitOptions.onSyncFailure).
   */
  onFatal: (error: Error) => void;
}

/** Memory all unread lists of a node may hold (consumers that keep up are served from it). */
const UNREAD_BUDGET_BYTES = 64 * 1024 * 1024;
/** One pull takes at most 1,000 messages: a consumer further behind reads the store. */
const UNREAD_PER_INBOX = 2_000;
const REGISTRATION_RETRY_MS = 1_000;

interface Running {
  store: NodeStore;
  replicas: ReplicaManager;
  maintenance: NodeMaintenance;
}

/**
 * The node role: owns the store, leads the partitions the coordinator assigns to it, and
 * answers for them. A request for a partition led elsewhere learns where (421 not_leader).
 * What it leads and follows is the ReplicaManager's; its background work, NodeMaintenance's;
 * this class wires them to the coordinator's events and reacts to the session and the disk.
 */
export class NodeRole {
  private running: Running | undefined;
  private partitionCount = 0;
  private readonly unreadBudget: UnreadBudget = { limit: UNREAD_BUDGET_BYTES, perInbox: UNREAD_PER_INBOX, used: 0 };
  private fenceTimer: NodeJS.Timeout | undefined;
  /** Withdrawals and registrations, one after another. */
  private registrationChange: Promise<void> = Promise.resolve();
  private readonly unsubscribes: Unsubscribe[] = [];
  private closing: Promise<void> | undefined;
  private draining = false;
  /** Per queue, topic and subscription counters, bumped by the request handlers (see InboxMetrics). */
  readonly messageMetrics: InboxMetrics;

  constructor(private readonly options: NodeRoleOptions) {
    this.messageMetrics = new InboxMetrics(options.config.metricsMaxQueues);
  }

  get nodeId(): string {
    return this.options.config.nodeId;
  }

  /** For requests to other nodes (`request(url, { dispatcher })`); undefined: undici's global dispatcher. */
  get peerHttp(): Dispatcher | undefined {
    return this.options.peerHttp;
  }

  /** The node's store; only once started. */
  get store(): NodeStore {
    return this.parts().store;
  }

  private parts(): Running {
    if (this.closing) throw closedError(`node ${this.nodeId}`);
    if (!this.running) throw new MomError('unavailable', `node ${this.nodeId} is starting; retry shortly`);
    return this.running;
  }

  async start(): Promise<void> {
    const { coordinator, config, logger, metrics } = this.options;
    const store = NodeStore.open(config.data, config.fsync, {
      logger,
      // A cluster node rebuilds a corrupt database from the other replicas; a single node cannot.
      onCorrupt: config.zookeeper !== undefined ? 'set-aside' : 'refuse',
      onCheckpointError: (message) => logger.warn('checkpoint failed', { error: message }),
      onSyncFailure: (error) => this.options.onFatal(error),
      writeObserver: storeWriteObserver(metrics),
    });
    const replicas: ReplicaManager = new ReplicaManager({
      nodeId: this.nodeId,
      store,
      coordinator,
      logger,
      commitLogs: commitLogFactory({ nodeId: this.nodeId, store, coordinator, config, logger, isLive: (id) => replicas.isRegistered(id) }),
      peers: this.options.replication?.peers,
      dedupWindowMs: config.dedupWindowMs,
      unreadBudget: this.unreadBudget,
      streamKeepaliveMs: config.streamKeepaliveMs,
    });
    const maintenance = new NodeMaintenance({ store, replicas, dedupWindowMs: config.dedupWindowMs, logger });
    this.running = { store, replicas, maintenance };
    registerNodeMetrics(metrics, store, replicas);
    this.messageMetrics.register(metrics);
    this.messageMetrics.attach({
      catalog: store.catalog,
      ledPartitions: () => new Set(replicas.allEngines().map((engine) => engine.partition)),
      counts: () => store.allCounts(),
      load: (inbox) => replicas.engine(inbox.partition)?.deliveryLoad(inbox.id) ?? { inFlight: 0, streams: 0, waiting: 0 },
    });

    const cluster = await coordinator.ensureCluster({ partitions: config.partitions });
    this.partitionCount = cluster.partitions;
    this.unsubscribes.push(
      coordinator.watchNodes((nodes) => replicas.onNodes(nodes)),
      coordinator.onSessionState((state) => this.onSessionState(state)),
      coordinator.watchPartitions((states) => replicas.onPartitionMap(states)),
      store.health.onChange((state) => this.onStorageState(state)),
    );
    await coordinator.registerNode(this.registration());
    await replicas.settled();
    await maintenance.start();
  }

  private registration(): NodeInfo {
    return { id: this.nodeId, http: this.options.httpUrl, grpc: this.options.grpcAddress, version: this.options.version };
  }

  partitionOf(exchange: string, name: string): number {
    return partitionOf(exchange, name, this.partitionCount);
  }

  get partitionTotal(): number {
    return this.partitionCount;
  }

  allEngines(): PartitionEngine[] {
    return this.parts().replicas.allEngines();
  }

  /** The engine of the partition holding `exchange/name`, or 421 naming the leader. */
  engineFor(exchange: string, name: string): PartitionEngine {
    return this.engineAt(this.partitionOf(exchange, name));
  }

  /** The engine of `partition` once it may answer, or 421 naming the leader. */
  engineAt(partition: number): PartitionEngine {
    const { replicas } = this.parts();
    const engine = replicas.engine(partition);
    if (!engine) throw replicas.notLeader(partition);
    const notReady = engine.commitLog.notReady();
    if (notReady) throw notReady;
    return engine;
  }

  notLeader(partition: number): MomError {
    return this.parts().replicas.notLeader(partition);
  }

  leaderOf(partition: number): { leader: string | null; node_location: string | null } {
    const { replicas } = this.parts();
    const leader = replicas.partitionState(partition)?.leader ?? null;
    return { leader, node_location: leader ? replicas.node(leader)?.http ?? null : null };
  }

  /** The replicated log of a partition this node leads, for the replication server. */
  leaderLog(partition: number): ReplicatedCommitLog | undefined {
    return this.running?.replicas.leaderLog(partition);
  }

  /**
   * Fencing (DESIGN §4): a node cut from ZooKeeper stops leading once it has been disconnected
   * for the session timeout (its session may have expired without it knowing), or at once when
   * it learns the session expired. It leads again only from a fresh view of the map.
   */
  private onSessionState(state: SessionState): void {
    const replicas = this.running?.replicas;
    if (!replicas || this.closing) return;
    if (state === 'connected') {
      if (this.fenceTimer) clearTimeout(this.fenceTimer);
      this.fenceTimer = undefined;
      if (replicas.isFenced('session')) {
        this.options.logger.info('session restored; resuming from the current partition map');
        replicas.unfence('session');
      }
      return;
    }
    if (state === 'expired') {
      replicas.fence('session', 'session expired');
      return;
    }
    if (!this.fenceTimer && !replicas.isFenced('session')) {
      const timeout = this.options.coordinator.sessionTimeoutMs();
      if (!Number.isFinite(timeout)) return;
      this.fenceTimer = setTimeout(() => {
        this.fenceTimer = undefined;
        replicas.fence('session', `disconnected from the coordinator for ${timeout} ms`);
      }, timeout);
      this.fenceTimer.unref();
    }
  }

  /**
   * DESIGN §5: a node whose disk refuses writes gives up its partitions. It withdraws its
   * registration, so the controller treats it as gone: other in-sync replicas take over its
   * leaderships and it leaves every ISR (a follower that cannot store what it fetches must
   * not hold the high watermark back, nor ever be elected). Once the disk takes writes again
   * it registers again and catches up as a follower; leaders add it back to the ISR when it
   * has everything. A single node has no one to hand over to: it keeps leading, answers
   * reads, and writes answer 507 until the disk takes them again.
   */
  private onStorageState(state: StorageState): void {
    const running = this.running;
    if (!running || this.closing || this.options.coordinator.kind !== 'zookeeper') return;
    const { coordinator, logger } = this.options;
    if (state === 'failed') {
      running.replicas.fence('storage', 'the disk refuses writes; stepping down until it takes them again');
      this.changeRegistration('withdraw', () => coordinator.withdrawNode());
      return;
    }
    this.changeRegistration('register', async () => {
      await coordinator.registerNode(this.registration());
      if (!running.store.health.writable || this.closing) return;
      logger.info('registered again after the disk recovered; following the partition map');
      running.replicas.unfence('storage');
    });
  }

  private changeRegistration(what: string, change: () => Promise<void>): void {
    this.registrationChange = this.registrationChange.then(async () => {
      for (let attempt = 1; !this.closing; attempt++) {
        try {
          await change();
          return;
        } catch (error) {
          this.options.logger.warn(`could not ${what} this node in the coordinator; retrying`, { attempt, error });
          await new Promise((resolve) => setTimeout(resolve, REGISTRATION_RETRY_MS));
        }
      }
    });
  }

  /** Lets in-flight requests end: long polls answer now, and keep answering at once; streams end. */
  drain(): void {
    this.draining = true;
    const reason = new MomError('unavailable', `node ${this.nodeId} is shutting down; reconnect (another node leads its partitions soon)`);
    for (const engine of this.running?.replicas.allEngines() ?? []) engine.drain(reason);
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Stops leading and following, then flushes and closes the store. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
      if (this.fenceTimer) clearTimeout(this.fenceTimer);
      const running = this.running;
      if (!running) return;
      await running.maintenance.close();
      await running.replicas.close();
      await running.store.close();
    })();
    return this.closing;
  }
}
