import type { BrokerConfig } from '../../config/settings';
import type { Coordinator, PartitionState } from '../../coordination/coordinator';
import type { CommitLog } from '../../log/commit-log';
import { LocalCommitLog } from '../../log/local-commit-log';
import { ReplicatedCommitLog } from '../../log/replicated-commit-log';
import type { Logger } from '../../runtime/logger';
import type { NodeStore } from '../../store/node-store';

/**
 * Builds and starts the commit log of a partition this node begins to lead. `onDeposed`: the
 * log found another leader or epoch in the map (a CAS told it) and must be stepped down from.
 */
export type CommitLogFactory = (partition: number, state: PartitionState, onDeposed: () => void) => Promise<CommitLog>;

export interface CommitLogFactoryOptions {
  nodeId: string;
  store: NodeStore;
  coordinator: Coordinator;
  config: Pick<BrokerConfig, 'minInsyncReplicas' | 'replicaLagMaxMs' | 'zkSessionTimeoutMs'>;
  logger: Logger;
  /** Whether a node is registered with the coordinator (see ReplicatedCommitLogOptions.isLive). */
  isLive: (nodeId: string) => boolean;
}

/** One replica: the local log; more: the replicated one, committed by the in-sync replicas (DESIGN §5). */
export function commitLogFactory(options: CommitLogFactoryOptions): CommitLogFactory {
  const { nodeId, store, coordinator, config, logger, isLive } = options;
  return async (partition, state, onDeposed) => {
    const log: CommitLog =
      state.replicas.length > 1
        ? new ReplicatedCommitLog({
            store,
            coordinator,
            state,
            nodeId,
            minInsyncReplicas: config.minInsyncReplicas,
            replicaLagMaxMs: config.replicaLagMaxMs,
            sessionTimeoutMs: config.zkSessionTimeoutMs,
            logger,
            onDeposed,
            isLive,
          })
        : new LocalCommitLog(store, partition, state.leaderEpoch, nodeId);
    await log.start();
    return log;
  };
}
