/**
 * Partition state writes (DESIGN §4): every write is a compare-and-set on the znode version,
 * and a controller's write also carries its epoch, checked in the same multi as the write:
 *
 *   multi( check(<root>/controller_epoch, version = epoch), setData(<root>/partitions/<p>, …, expectedVersion) )
 *
 * `controller_epoch`'s znode version always equals the epoch it holds (controller-election.ts),
 * so the check fails as soon as another controller has been elected: a deposed controller's
 * write changes nothing and is refused with `stale_epoch`.
 */
import { CreateMode, Exception, type Stat } from 'node-zookeeper-client';
import { MomError } from '../core/errors';
import type { ControllerFence, PartitionAssignment, PartitionState } from './coordinator';
import type { MultiOp, ZkClient } from './zk-client';
import { decodePartition, encodePartition, parsePartitionName, validateAssignment, type ZkLayout } from './zk-layout';

/** Creates the partition's znode if absent: false if it already existed. */
export async function createPartitionNode(zk: ZkClient, layout: ZkLayout, state: PartitionAssignment, fence?: ControllerFence): Promise<boolean> {
  validateAssignment(state);
  const path = layout.partition(state.partition);
  const data = encodePartition(state);
  if (!fence) return (await zk.create(path, data, CreateMode.PERSISTENT)) !== undefined;
  const result = await zk.multi([fenceCheck(layout, fence), { op: 'create', path, data, mode: CreateMode.PERSISTENT }]);
  if (result.ok) return true;
  if (result.index === 0 && isFenceFailure(result.code)) throw staleFence(fence);
  if (result.code === Exception.NODE_EXISTS) return false;
  throw zk.refused(`create ${path}`, result.code);
}

/** Writes `next` if the znode is still at `expectedVersion`: the new state, or undefined on conflict. */
export async function casPartitionNode(
  zk: ZkClient,
  layout: ZkLayout,
  next: PartitionAssignment,
  expectedVersion: number,
  fence?: ControllerFence,
): Promise<PartitionState | undefined> {
  validateAssignment(next);
  if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0) {
    throw new MomError('bad_request', `casPartition needs the version the state was read at, got ${expectedVersion}`);
  }
  const path = layout.partition(next.partition);
  const data = encodePartition(next);
  let stat: Stat | undefined;
  if (!fence) {
    const result = await zk.setData(path, data, expectedVersion);
    if (result === 'bad_version' || result === 'no_node') return undefined;
    stat = result;
  } else {
    const result = await zk.multi([fenceCheck(layout, fence), { op: 'setData', path, data, version: expectedVersion }]);
    if (!result.ok) {
      if (result.index === 0 && isFenceFailure(result.code)) throw staleFence(fence);
      if (result.code === Exception.BAD_VERSION || result.code === Exception.NO_NODE) return undefined;
      throw zk.refused(`setData ${path}`, result.code);
    }
    stat = result.results[1]?.stat;
  }
  return {
    partition: next.partition,
    replicas: [...next.replicas],
    leader: next.leader,
    leaderEpoch: next.leaderEpoch,
    isr: [...next.isr],
    version: stat?.version ?? expectedVersion + 1,
  };
}

/** A child of `<root>/partitions` as a PartitionState, or undefined if it is not one. */
export function decodePartitionNode(name: string, data: Buffer, stat: Stat): PartitionState | undefined {
  const partition = parsePartitionName(name);
  return partition === undefined ? undefined : decodePartition(partition, data, stat.version);
}

function fenceCheck(layout: ZkLayout, fence: ControllerFence): MultiOp {
  if (!Number.isSafeInteger(fence.controllerEpoch) || fence.controllerEpoch < 0) {
    throw new MomError('bad_request', `controller epoch must be a non-negative integer, got ${fence.controllerEpoch}`);
  }
  return { op: 'check', path: layout.controllerEpoch, version: fence.controllerEpoch };
}

/** The epoch check failed: another controller has been elected (or the epoch node is gone). */
function isFenceFailure(code: number): boolean {
  return code === Exception.BAD_VERSION || code === Exception.NO_NODE;
}

function staleFence(fence: ControllerFence): MomError {
  return new MomError(
    'stale_epoch',
    `controller epoch ${fence.controllerEpoch} is stale: another controller has been elected since; this write was refused`,
    { retryable: false, details: { controller_epoch: fence.controllerEpoch } },
  );
}
