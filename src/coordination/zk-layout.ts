/**
 * The ZooKeeper layout of a cluster (DESIGN §4) and the JSON each znode holds. Pure: no I/O.
 * On the wire keys are snake_case (`leader_epoch`, `created_at`); in TypeScript camelCase.
 *
 * ```
 * <root>/cluster                      PERSISTENT {"partitions":P}
 * <root>/nodes/<id>                   EPHEMERAL  {"id","http","grpc","version"}
 * <root>/controller_election/candidate-<uuid>-<seq>   EPHEMERAL_SEQUENTIAL {"id"}
 * <root>/controller                   EPHEMERAL  {"id","epoch"}
 * <root>/controller_epoch             PERSISTENT "<n>", and its znode version is n too
 * <root>/partitions/<p>               PERSISTENT {"replicas","leader","leader_epoch","isr"}
 * <root>/exchanges/<name>             PERSISTENT {"name","created_at"}
 * ```
 */
import { MomError } from '../core/errors';
import type { ClusterSettings, ExchangeInfo, NodeInfo, PartitionAssignment, PartitionState } from './coordinator';

const ROOT_PATTERN = /^(\/[A-Za-z0-9_.-]+)+$/;
/** Same rule as the `--node-id` setting. */
const NODE_ID_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/;

export class ZkLayout {
  readonly nodes: string;
  readonly partitions: string;
  readonly exchanges: string;
  readonly cluster: string;
  readonly controller: string;
  readonly controllerEpoch: string;
  readonly election: string;

  constructor(readonly root: string) {
    if (!ROOT_PATTERN.test(root)) {
      throw new MomError('config_invalid', `zookeeper root: expected a path like /mom, got ${JSON.stringify(root)}`);
    }
    this.nodes = `${root}/nodes`;
    this.partitions = `${root}/partitions`;
    this.exchanges = `${root}/exchanges`;
    this.cluster = `${root}/cluster`;
    this.controller = `${root}/controller`;
    this.controllerEpoch = `${root}/controller_epoch`;
    this.election = `${root}/controller_election`;
  }

  /** Persistent parents created at start. */
  get parents(): string[] {
    return [this.nodes, this.partitions, this.exchanges, this.election];
  }

  node(id: string): string {
    if (!NODE_ID_PATTERN.test(id)) {
      throw new MomError('bad_request', `node id ${JSON.stringify(id)} is invalid: use 1-64 characters from A-Z a-z 0-9 _ - .`);
    }
    return `${this.nodes}/${id}`;
  }

  partition(partition: number): string {
    if (!Number.isSafeInteger(partition) || partition < 0) {
      throw new MomError('bad_request', `partition must be a non-negative integer, got ${partition}`);
    }
    return `${this.partitions}/${partition}`;
  }

  /** `name` must already be a valid exchange name (src/core/names.ts). */
  exchange(name: string): string {
    return `${this.exchanges}/${name}`;
  }
}

// ---- codecs ----------------------------------------------------------------------------

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function parse(data: Buffer): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

export function encodeNode(info: NodeInfo): Buffer {
  return json({ id: info.id, http: info.http, grpc: info.grpc, version: info.version });
}

export function decodeNode(data: Buffer): NodeInfo | undefined {
  const v = parse(data);
  if (!isObject(v) || typeof v.id !== 'string' || typeof v.http !== 'string') return undefined;
  return {
    id: v.id,
    http: v.http,
    grpc: typeof v.grpc === 'string' ? v.grpc : '',
    version: typeof v.version === 'string' ? v.version : '',
  };
}

export function encodePartition(state: PartitionAssignment): Buffer {
  return json({ replicas: state.replicas, leader: state.leader, leader_epoch: state.leaderEpoch, isr: state.isr });
}

export function decodePartition(partition: number, data: Buffer, version: number): PartitionState | undefined {
  const v = parse(data);
  if (!isObject(v) || !isStringArray(v.replicas) || !isStringArray(v.isr) || !isCount(v.leader_epoch)) return undefined;
  if (v.leader !== null && typeof v.leader !== 'string') return undefined;
  return { partition, replicas: v.replicas, leader: v.leader, leaderEpoch: v.leader_epoch, isr: v.isr, version };
}

/** Rejects assignments that would not read back (a bug in the caller, not a cluster state). */
export function validateAssignment(state: PartitionAssignment): void {
  const problems: string[] = [];
  if (!isCount(state.partition)) problems.push('partition must be a non-negative integer');
  if (!isStringArray(state.replicas)) problems.push('replicas must be node ids');
  if (!isStringArray(state.isr)) problems.push('isr must be node ids');
  if (state.leader !== null && typeof state.leader !== 'string') problems.push('leader must be a node id or null');
  if (!isCount(state.leaderEpoch)) problems.push('leaderEpoch must be a non-negative integer');
  if (problems.length > 0) throw new MomError('bad_request', `invalid partition state: ${problems.join('; ')}`);
}

/** Partition znodes are named by their decimal number; anything else is ignored. */
export function parsePartitionName(name: string): number | undefined {
  return /^(0|[1-9][0-9]{0,8})$/.test(name) ? Number(name) : undefined;
}

export function encodeExchange(info: ExchangeInfo): Buffer {
  return json({ name: info.name, created_at: info.createdAt });
}

export function decodeExchange(name: string, data: Buffer): ExchangeInfo {
  const v = parse(data);
  const createdAt = isObject(v) && typeof v.created_at === 'string' ? v.created_at : new Date(0).toISOString();
  return { name, createdAt };
}

export function encodeCluster(settings: ClusterSettings): Buffer {
  return json({ partitions: settings.partitions });
}

export function decodeCluster(data: Buffer): ClusterSettings | undefined {
  const v = parse(data);
  if (!isObject(v) || !isCount(v.partitions) || v.partitions < 1) return undefined;
  return { partitions: v.partitions };
}

export interface ControllerRecord {
  id: string;
  epoch: number;
}

export function encodeController(record: ControllerRecord): Buffer {
  return json({ id: record.id, epoch: record.epoch });
}

export function decodeController(data: Buffer): ControllerRecord | undefined {
  const v = parse(data);
  if (!isObject(v) || typeof v.id !== 'string' || !isCount(v.epoch)) return undefined;
  return { id: v.id, epoch: v.epoch };
}

export function encodeEpoch(epoch: number): Buffer {
  return Buffer.from(String(epoch), 'utf8');
}

export function decodeEpoch(data: Buffer): number | undefined {
  const text = data.toString('utf8').trim();
  return /^(0|[1-9][0-9]{0,15})$/.test(text) ? Number(text) : undefined;
}
