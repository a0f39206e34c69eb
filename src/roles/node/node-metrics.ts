import type { ReplicatedCommitLog } from '../../log/replicated-commit-log';
import type { Metrics, Sample } from '../../runtime/metrics';
import type { WriteObserver } from '../../store/group-commit';
import type { NodeStore } from '../../store/node-store';
import type { ReplicaManager } from './replica-manager';

/** Seconds: a group's transaction is sub-millisecond when all is well. */
const COMMIT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
/** Seconds: an fdatasync takes from tens of microseconds (cache) to seconds (a struggling disk). */
const FSYNC_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** The store's commit and fdatasync histograms, registered before the store opens (it reports to them). */
export function storeWriteObserver(metrics: Metrics): WriteObserver {
  const commits = metrics.histogram('mom_store_commit_duration_seconds', 'time one group commit\'s SQLite transaction took (every write of one event-loop turn)', [], COMMIT_BUCKETS);
  const syncs = metrics.histogram('mom_store_fsync_duration_seconds', 'time one fdatasync of the write-ahead log took (in the thread pool; it covers every group committed before it)', [], FSYNC_BUCKETS);
  return {
    committed: (seconds) => commits.observe(seconds),
    synced: (seconds) => syncs.observe(seconds),
  };
}

/** What a node's store and replica manager export, all read at scrape time. */
export function registerNodeMetrics(metrics: Metrics, store: NodeStore, replicas: ReplicaManager): void {
  const writes = store.writes;
  metrics.counterFrom('mom_store_group_commits_total', 'transactions committed by the group committer', () => writes.groups);
  metrics.counterFrom('mom_store_writes_total', 'writes committed (several per group)', () => writes.writes);
  metrics.counterFrom('mom_store_syncs_total', 'fdatasyncs of the write-ahead log', () => writes.syncs);
  metrics.counterFrom('mom_store_checkpoints_total', 'WAL checkpoints completed by the checkpointer thread', () => store.checkpointer.completed);
  metrics.counterFrom('mom_store_write_failures_total', 'times the disk refused a write and the node stopped writing', () => store.health.failures);
  metrics.gauge('mom_store_writable', '1 while the disk takes writes, 0 while it refuses them (full or failing)', () => (store.health.writable ? 1 : 0));
  metrics.gauges('mom_store_file_bytes', 'size of the node database (file="database") and of its write-ahead log (file="wal")', ['file'], () => {
    const sizes = store.fileSizes();
    return [
      { labels: { file: 'database' }, value: sizes.database },
      { labels: { file: 'wal' }, value: sizes.wal },
    ];
  });

  metrics.gauge('mom_partitions_led', 'partitions this node leads', () => replicas.allEngines().length);
  metrics.gauge('mom_partitions_followed', 'partitions this node follows (fetches from their leader)', () => replicas.allFollowers().length);

  // Per partition led here. A single replica's log commits what it appends: its high
  // watermark is its log end and its ISR is itself.
  const perLed = (read: (partition: number, log: ReplicatedCommitLog | undefined) => number) => (): Sample[] =>
    replicas.allEngines().map((engine) => ({ labels: { partition: engine.partition }, value: read(engine.partition, replicas.leaderLog(engine.partition)) }));
  metrics.gauges('mom_partition_high_watermark', 'the committed offset (high watermark) of each partition led here: entries below it are on every in-sync replica', ['partition'],
    perLed((partition, log) => log?.replicationStatus().highWatermark ?? store.position(partition).applied));
  metrics.gauges('mom_partition_log_end_offset', 'the next offset the leader writes, for each partition led here (log end minus high watermark: not yet committed)', ['partition'],
    perLed((partition, log) => log?.replicationStatus().logEnd ?? store.position(partition).logEnd));
  metrics.gauges('mom_partition_isr_size', 'in-sync replicas of each partition led here, the leader included', ['partition'], perLed((_partition, log) => log?.replicationStatus().isrSize ?? 1));
  metrics.gauges('mom_partition_replicas', 'replicas assigned to each partition led here (ISR size below it: under-replicated)', ['partition'], perLed((_partition, log) => log?.replicationStatus().replicas ?? 1));

  const followerSamples = (read: (follower: { lagEntries: number; lagMs: number }) => number) => (): Sample[] => {
    const samples: Sample[] = [];
    const now = Date.now();
    for (const engine of replicas.allEngines()) {
      const log = replicas.leaderLog(engine.partition);
      if (!log) continue;
      for (const follower of log.replicationStatus(now).followers) samples.push({ labels: { partition: engine.partition, follower: follower.id }, value: read(follower) });
    }
    return samples;
  };
  metrics.gauges('mom_partition_follower_lag_entries', 'entries each follower of a partition led here lacks of the leader\'s log', ['partition', 'follower'], followerSamples((f) => f.lagEntries));
  metrics.gauges('mom_partition_follower_lag_seconds', 'how long each follower of a partition led here has not had all of the leader\'s log (0 while it has; past --replica-lag-max-ms it leaves the ISR)', ['partition', 'follower'],
    followerSamples((f) => f.lagMs / 1000));
}
