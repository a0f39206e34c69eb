/**
 * Every server setting in one table: its key in the config file, its flag, its environment
 * variable, how to parse it and its default. Precedence is flags > environment > file >
 * defaults (DESIGN §9). config.example.json documents the same keys.
 */
import { MomError } from '../core/errors';

export const ROLES = ['node', 'replicator', 'auth', 'partitioner', 'gateway', 'all'] as const;
export type Role = (typeof ROLES)[number];
export type FsyncPolicy = 'always' | 'batch' | 'never';

export interface HostPort {
  host: string;
  port: number;
}

export interface BrokerConfig {
  roles: Role[];
  data: string;
  listen: HostPort;
  grpc: HostPort;
  nodeId: string;
  zookeeper: string | undefined;
  zkRoot: string;
  zkSessionTimeoutMs: number;
  authUrl: string | undefined;
  partitionerUrl: string | undefined;
  /** How other processes reach this one's HTTP listener (defaults to http://listen). */
  advertiseUrl: string | undefined;
  /** How other nodes reach this one's gRPC listener (defaults to grpc). */
  advertiseGrpc: string | undefined;
  partitions: number;
  replicationFactor: number;
  minInsyncReplicas: number;
  uncleanElection: boolean;
  fsync: FsyncPolicy;
  bodyLimitBytes: number;
  tokenTtlSeconds: number;
  dedupWindowMs: number;
  metricsRequireAuth: boolean;
  /** Queues, topics and subscriptions with /metrics series of their own on a node; the rest are summed (InboxMetrics). */
  metricsMaxQueues: number;
  clusterSecret: string | undefined;
  /** PEM certificate (chain) and key files: the client HTTP listener serves HTTPS (see tls-files.ts). */
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  /** PEM CA file trusted when this process reaches other roles over HTTPS (default: the system's CAs). */
  tlsCa: string | undefined;
  /** PEM files for mutual TLS between replicators: this node's certificate and key, and the CA peers must be signed by. */
  grpcTlsCert: string | undefined;
  grpcTlsKey: string | undefined;
  grpcTlsCa: string | undefined;
  logLevel: string;
  gatewayRetryDeadlineMs: number;
  replicaLagMaxMs: number;
  streamKeepaliveMs: number;
  /** Open client connections per HTTP listener; past it, requests answer 429 and the connection closes. */
  maxConnections: number;
  /** Long polls (pulls with wait_ms > 0) one user may have open at once on one node; 429 past it. */
  maxLongPollsPerUser: number;
}

type Parser<T> = (raw: unknown, name: string) => T;

export interface SettingSpec<K extends keyof BrokerConfig = keyof BrokerConfig> {
  key: K;
  flag: string;
  env: string;
  description: string;
  parse: Parser<BrokerConfig[K]>;
  default: BrokerConfig[K];
}

function bad(name: string, expected: string, raw: unknown): MomError {
  return new MomError('config_invalid', `${name}: expected ${expected}, got ${JSON.stringify(raw)}`);
}

export const parseString: Parser<string> = (raw, name) => {
  if (typeof raw !== 'string' || raw === '') throw bad(name, 'a non-empty string', raw);
  return raw;
};

const parseOptionalString: Parser<string | undefined> = (raw, name) => (raw === undefined ? undefined : parseString(raw, name));

function parseInteger(min: number, max: number): Parser<number> {
  return (raw, name) => {
    const value = typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : raw;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      throw bad(name, `an integer from ${min} to ${max}`, raw);
    }
    return value;
  };
}

const parseBoolean: Parser<boolean> = (raw, name) => {
  if (raw === true || raw === 'true' || raw === '1') return true;
  if (raw === false || raw === 'false' || raw === '0') return false;
  throw bad(name, 'true or false', raw);
};

export const parseHostPort: Parser<HostPort> = (raw, name) => {
  if (typeof raw !== 'string') throw bad(name, 'host:port', raw);
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(raw);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) throw bad(name, 'host:port', raw);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
};

const parseUrl: Parser<string | undefined> = (raw, name) => {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^https?:\/\/[^/\s]+/.test(raw)) throw bad(name, 'an http(s) URL', raw);
  return raw.replace(/\/+$/, '');
};

/** One URL, or several separated by commas (e.g. every partitioner, for a gateway to fail over). */
const parseUrlList: Parser<string | undefined> = (raw, name) => {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw bad(name, 'one or more comma-separated http(s) URLs', raw);
  return raw
    .split(',')
    .map((url) => parseUrl(url.trim(), name)!)
    .join(',');
};

const parseRoles: Parser<Role[]> = (raw, name) => {
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : undefined;
  if (!list || list.length === 0) throw bad(name, `a comma-separated list of ${ROLES.join(', ')}`, raw);
  const roles = new Set<Role>();
  for (const item of list) {
    const role = typeof item === 'string' ? item.trim() : item;
    if (!(ROLES as readonly unknown[]).includes(role)) throw bad(name, `roles from ${ROLES.join(', ')}`, raw);
    roles.add(role as Role);
  }
  return [...roles];
};

const parseFsync: Parser<FsyncPolicy> = (raw, name) => {
  if (raw === 'always' || raw === 'batch' || raw === 'never') return raw;
  throw bad(name, 'always, batch or never', raw);
};

const parseLogLevel: Parser<string> = (raw, name) => {
  if (raw === 'debug' || raw === 'info' || raw === 'warn' || raw === 'error' || raw === 'silent') return raw;
  throw bad(name, 'debug, info, warn, error or silent', raw);
};

const parseZkRoot: Parser<string> = (raw, name) => {
  if (typeof raw !== 'string' || !/^(\/[A-Za-z0-9_.-]+)+$/.test(raw)) throw bad(name, 'a ZooKeeper path like /mom', raw);
  return raw;
};

const parseNodeId: Parser<string> = (raw, name) => {
  if (typeof raw !== 'string' || !/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/.test(raw)) throw bad(name, 'a node id like node-1', raw);
  return raw;
};

function spec<K extends keyof BrokerConfig>(s: SettingSpec<K>): SettingSpec<K> {
  return s;
}

export const SETTINGS: readonly SettingSpec[] = [
  spec({ key: 'roles', flag: 'role', env: 'MOM_ROLE', description: 'roles to run: node,replicator,auth,partitioner,gateway or all', parse: parseRoles, default: ['all'] }),
  spec({ key: 'data', flag: 'data', env: 'MOM_DATA', description: 'data directory', parse: parseString, default: './mom-data' }),
  spec({ key: 'listen', flag: 'listen', env: 'MOM_LISTEN', description: 'HTTP listen address host:port', parse: parseHostPort, default: { host: '127.0.0.1', port: 8080 } }),
  spec({ key: 'grpc', flag: 'grpc', env: 'MOM_GRPC', description: 'gRPC (replication) listen address host:port', parse: parseHostPort, default: { host: '127.0.0.1', port: 9090 } }),
  spec({ key: 'nodeId', flag: 'node-id', env: 'MOM_NODE_ID', description: 'this node\'s id in the cluster', parse: parseNodeId, default: 'node-1' }),
  spec({ key: 'zookeeper', flag: 'zookeeper', env: 'MOM_ZOOKEEPER', description: 'ZooKeeper connect string host:port[,host:port...]', parse: parseOptionalString, default: undefined }),
  spec({ key: 'zkRoot', flag: 'zk-root', env: 'MOM_ZK_ROOT', description: 'root path of the cluster in ZooKeeper', parse: parseZkRoot, default: '/mom' }),
  spec({ key: 'zkSessionTimeoutMs', flag: 'zk-session-timeout-ms', env: 'MOM_ZK_SESSION_TIMEOUT_MS', description: 'ZooKeeper session timeout', parse: parseInteger(2000, 60000), default: 6000 }),
  spec({ key: 'authUrl', flag: 'auth-url', env: 'MOM_AUTH_URL', description: 'URL of the auth role (JWKS)', parse: parseUrl, default: undefined }),
  spec({ key: 'partitionerUrl', flag: 'partitioner-url', env: 'MOM_PARTITIONER_URL', description: 'URL of the partitioner role (several, comma-separated, to fail over)', parse: parseUrlList, default: undefined }),
  spec({ key: 'advertiseUrl', flag: 'advertise-url', env: 'MOM_ADVERTISE_URL', description: 'HTTP URL other processes use to reach this one', parse: parseUrl, default: undefined }),
  spec({ key: 'advertiseGrpc', flag: 'advertise-grpc', env: 'MOM_ADVERTISE_GRPC', description: 'gRPC host:port other nodes use to reach this one', parse: parseOptionalString, default: undefined }),
  spec({ key: 'partitions', flag: 'partitions', env: 'MOM_PARTITIONS', description: 'partition count, fixed when the cluster is created', parse: parseInteger(1, 4096), default: 16 }),
  spec({ key: 'replicationFactor', flag: 'replication-factor', env: 'MOM_REPLICATION_FACTOR', description: 'replicas per partition (capped at the node count)', parse: parseInteger(1, 7), default: 3 }),
  spec({ key: 'minInsyncReplicas', flag: 'min-insync-replicas', env: 'MOM_MIN_INSYNC_REPLICAS', description: 'ISR size below which publishes fail with 503', parse: parseInteger(1, 7), default: 2 }),
  spec({ key: 'uncleanElection', flag: 'unclean-election', env: 'MOM_UNCLEAN_ELECTION', description: 'allow electing a leader outside the ISR (may lose data)', parse: parseBoolean, default: false }),
  spec({ key: 'fsync', flag: 'fsync', env: 'MOM_FSYNC', description: 'always, batch (group commit, the default) or never', parse: parseFsync, default: 'batch' }),
  spec({ key: 'bodyLimitBytes', flag: 'body-limit-bytes', env: 'MOM_BODY_LIMIT_BYTES', description: 'largest accepted request body', parse: parseInteger(1024, 64 * 1024 * 1024), default: 1024 * 1024 }),
  spec({ key: 'tokenTtlSeconds', flag: 'token-ttl-seconds', env: 'MOM_TOKEN_TTL_SECONDS', description: 'lifetime of issued tokens', parse: parseInteger(10, 7 * 24 * 3600), default: 3600 }),
  spec({ key: 'dedupWindowMs', flag: 'dedup-window-ms', env: 'MOM_DEDUP_WINDOW_MS', description: 'how long a producer id is remembered', parse: parseInteger(0, 7 * 24 * 3600 * 1000), default: 600_000 }),
  spec({ key: 'metricsRequireAuth', flag: 'metrics-require-auth', env: 'MOM_METRICS_REQUIRE_AUTH', description: 'require a token for GET /metrics', parse: parseBoolean, default: false }),
  spec({ key: 'metricsMaxQueues', flag: 'metrics-max-queues', env: 'MOM_METRICS_MAX_QUEUES', description: 'queues, topics and subscriptions with /metrics series of their own on a node; the rest are summed into series labelled .other', parse: parseInteger(0, 100_000), default: 1000 }),
  spec({ key: 'clusterSecret', flag: 'cluster-secret', env: 'MOM_CLUSTER_SECRET', description: 'shared secret for inter-node gRPC', parse: parseOptionalString, default: undefined }),
  spec({ key: 'tlsCert', flag: 'tls-cert', env: 'MOM_TLS_CERT', description: 'PEM certificate (chain) file: serve the client HTTP API over HTTPS (with --tls-key)', parse: parseOptionalString, default: undefined }),
  spec({ key: 'tlsKey', flag: 'tls-key', env: 'MOM_TLS_KEY', description: 'PEM private key file of --tls-cert', parse: parseOptionalString, default: undefined }),
  spec({ key: 'tlsCa', flag: 'tls-ca', env: 'MOM_TLS_CA', description: 'PEM CA file trusted when reaching other roles over HTTPS (default: the system CAs)', parse: parseOptionalString, default: undefined }),
  spec({ key: 'grpcTlsCert', flag: 'grpc-tls-cert', env: 'MOM_GRPC_TLS_CERT', description: 'PEM certificate file of this node for mutual TLS on inter-node gRPC (with --grpc-tls-key and --grpc-tls-ca)', parse: parseOptionalString, default: undefined }),
  spec({ key: 'grpcTlsKey', flag: 'grpc-tls-key', env: 'MOM_GRPC_TLS_KEY', description: 'PEM private key file of --grpc-tls-cert', parse: parseOptionalString, default: undefined }),
  spec({ key: 'grpcTlsCa', flag: 'grpc-tls-ca', env: 'MOM_GRPC_TLS_CA', description: 'PEM CA file that must have signed every peer node\'s gRPC certificate', parse: parseOptionalString, default: undefined }),
  spec({ key: 'logLevel', flag: 'log-level', env: 'MOM_LOG_LEVEL', description: 'debug, info, warn, error or silent', parse: parseLogLevel, default: 'info' }),
  spec({ key: 'gatewayRetryDeadlineMs', flag: 'gateway-retry-deadline-ms', env: 'MOM_GATEWAY_RETRY_DEADLINE_MS', description: 'how long the gateway retries during a failover', parse: parseInteger(0, 120_000), default: 10_000 }),
  spec({ key: 'replicaLagMaxMs', flag: 'replica-lag-max-ms', env: 'MOM_REPLICA_LAG_MAX_MS', description: 'a follower behind for longer leaves the ISR', parse: parseInteger(100, 600_000), default: 10_000 }),
  spec({ key: 'streamKeepaliveMs', flag: 'stream-keepalive-ms', env: 'MOM_STREAM_KEEPALIVE_MS', description: 'an idle stream gets a keepalive comment this often (at most 15000, as DESIGN §8 promises)', parse: parseInteger(100, 15_000), default: 10_000 }),
  spec({ key: 'maxConnections', flag: 'max-connections', env: 'MOM_MAX_CONNECTIONS', description: 'open connections per HTTP listener; past it requests get 429 and the connection closes', parse: parseInteger(1, 1_000_000), default: 10_000 }),
  spec({ key: 'maxLongPollsPerUser', flag: 'max-long-polls-per-user', env: 'MOM_MAX_LONG_POLLS_PER_USER', description: 'long polls (pulls with wait_ms > 0) one user may have open at once on a node; 429 past it', parse: parseInteger(1, 1_000_000), default: 128 }),
];
