import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MomError } from '../core/errors';
import { assertValidName } from '../core/names';
import { ACTIONS, isAction, type Action, type Grant, type Principal } from '../core/permissions';
import { ensurePrivateDir, makeDatabasePrivate } from '../runtime/private-files';

/**
 * The auth role's user table (DESIGN §3, §7): its own SQLite file at `<data>/auth/users.db`,
 * users with scrypt password hashes and per-exchange-pattern grants. WAL and a busy timeout
 * let `mombroker users …` change users while a broker holds the same file open. One concept
 * past 350 lines: every read and write of that table is here, and only here.
 */
export const USER_DB_RELATIVE_PATH = join('auth', 'users.db');

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

/** scrypt cost: N=2^14, r=8, p=1 (16 MiB, ~50 ms), 16-byte salt, 32-byte key. */
const SCRYPT = { N: 16384, r: 8, p: 1, saltBytes: 16, keyBytes: 32 } as const;
/** Refuse stored hashes whose parameters would exhaust memory (a tampered database). */
const SCRYPT_MAXMEM = 64 * 1024 * 1024;

/** A pattern is an exchange name where `*` may stand for any run of characters (`logs.*`, `*`). */
const PATTERN_RE = /^[A-Za-z0-9_*-][A-Za-z0-9_.*-]{0,127}$/;

export interface UserRecord {
  id: number;
  username: string;
  admin: boolean;
  createdAt: string;
  grants: Grant[];
}

/**
 * A user as token verifiers need it: the live principal, and the token epoch (DESIGN §7). The
 * epoch goes up with every password change; tokens carry the epoch they were issued at, and
 * one issued at an older epoch is refused, so a new password ends the old tokens.
 */
export interface LiveUser {
  principal: Principal;
  tokenEpoch: number;
}

export interface OpenUserDatabaseOptions {
  /** When false, a missing database file is a `not_found` error instead of being created. */
  create?: boolean;
  /** How long a write waits for another process's lock (the CLI next to a running broker). */
  busyTimeoutMs?: number;
}

interface UserRow {
  id: number;
  username: string;
  password_hash: string;
  admin: number;
  created_at: string;
  token_epoch: number;
}

interface GrantRow {
  user_id: number;
  exchange_pattern: string;
  actions: string;
}

const SCHEMA_VERSION = 2;

/**
 * Checked against when the user does not exist, so that case costs one scrypt too. Random
 * bytes with the current parameters, not the hash of any password: nothing ever matches it.
 */
const DUMMY_HASH = 'scrypt$16384$8$1$s7yhvswCz9aF0lb7PzhONA==$zzZKCivTB0zSu6A70AxEWzIsC0EFCrQR6Rvskjq+W40=';

export class UserDatabase {
  readonly path: string;
  private db: Database.Database | undefined;
  /** Prepared once: principal() runs on every request when auth shares the process. */
  private readonly statements = new Map<string, Database.Statement>();
  /**
   * liveUser() answers, kept until the database changes: another connection's commit (the
   * `mombroker users` CLI, another process) moves PRAGMA data_version; this one's own writes
   * clear it themselves. Two queries per request were 6% of a single node's CPU at 500 msg/s.
   */
  private readonly liveUsersCache = new Map<string, LiveUser | undefined>();
  private cachedAtVersion = -1;

  constructor(dataDir: string, options: OpenUserDatabaseOptions = {}) {
    this.path = join(dataDir, USER_DB_RELATIVE_PATH);
    if (options.create === false && !existsSync(this.path)) {
      throw new MomError(
        'not_found',
        `no user database at ${this.path}: check --data (or MOM_DATA), or add a user first with "mombroker users add"`,
      );
    }
    ensurePrivateDir(join(dataDir, 'auth'), { tighten: true });
    const db = new Database(this.path);
    try {
      // Password hashes are secrets; SQLite gives the -wal and -shm files the same mode.
      makeDatabasePrivate(this.path);
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5_000))}`);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      migrate(db);
    } catch (error) {
      db.close();
      throw error;
    }
    this.db = db;
  }

  /** Adds a user; `conflict` if the name is taken. */
  async addUser(username: string, password: string, options: { admin?: boolean } = {}): Promise<UserRecord> {
    const record = await this.insertUser(username, password, options.admin === true, false);
    return record!;
  }

  /**
   * Adds the user only if the database has no user at all (the initial admin, DESIGN §7), in
   * one statement, so a user added meanwhile by another process wins. `undefined` if not added.
   */
  async addFirstUser(username: string, password: string, options: { admin?: boolean } = {}): Promise<UserRecord | undefined> {
    if (this.countUsers() > 0) return undefined;
    return this.insertUser(username, password, options.admin === true, true);
  }

  private async insertUser(username: string, password: string, admin: boolean, onlyIfEmpty: boolean): Promise<UserRecord | undefined> {
    assertValidName('user', username);
    assertPassword(password);
    if (this.findUser(username)) throw userExists(username);
    const hash = await hashPassword(password);
    const createdAt = new Date().toISOString();
    let id: number;
    try {
      const info = this.prepare(
        'INSERT INTO users (username, password_hash, admin, created_at) SELECT ?, ?, ?, ? ' +
          (onlyIfEmpty ? 'WHERE NOT EXISTS (SELECT 1 FROM users)' : ''),
      ).run(username, hash, admin ? 1 : 0, createdAt);
      this.changed();
      if (info.changes === 0) return undefined;
      id = Number(info.lastInsertRowid);
    } catch (error) {
      // Another process may have added the same name while we were hashing.
      if ((error as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw userExists(username);
      throw error;
    }
    return { id, username, admin, createdAt, grants: [] };
  }

  /** Removes a user and its grants; `not_found` if there is no such user. */
  removeUser(username: string): void {
    const info = this.prepare('DELETE FROM users WHERE username = ?').run(username);
    this.changed();
    if (info.changes === 0) throw noSuchUser(username);
  }

  listUsers(): UserRecord[] {
    const users = this.prepare('SELECT id, username, password_hash, admin, created_at FROM users ORDER BY id').all() as UserRow[];
    const grants = this.prepare('SELECT user_id, exchange_pattern, actions FROM grants ORDER BY user_id, exchange_pattern').all() as GrantRow[];
    const byUser = new Map<number, Grant[]>();
    for (const row of grants) {
      const list = byUser.get(row.user_id) ?? [];
      list.push(toGrant(row));
      byUser.set(row.user_id, list);
    }
    return users.map((row) => ({
      id: row.id,
      username: row.username,
      admin: row.admin === 1,
      createdAt: row.created_at,
      grants: byUser.get(row.id) ?? [],
    }));
  }

  countUsers(): number {
    const row = this.prepare('SELECT COUNT(*) AS n FROM users').get() as { n: number };
    return row.n;
  }

  async setPassword(username: string, password: string): Promise<void> {
    assertPassword(password);
    if (!this.findUser(username)) throw noSuchUser(username);
    const hash = await hashPassword(password);
    // A new token epoch: every token issued before this change is refused from now on.
    const info = this.prepare('UPDATE users SET password_hash = ?, token_epoch = token_epoch + 1 WHERE username = ?').run(hash, username);
    this.changed();
    if (info.changes === 0) throw noSuchUser(username);
  }

  /** Allows `actions` on exchanges matching `pattern`, merged with what the user already has there. */
  grant(username: string, exchangePattern: string, actions: readonly string[]): Grant {
    assertPattern(exchangePattern);
    const wanted = parseActions(actions);
    const db = this.open();
    const apply = db.transaction((): Grant => {
      const user = this.findUser(username);
      if (!user) throw noSuchUser(username);
      const existing = this.prepare('SELECT user_id, exchange_pattern, actions FROM grants WHERE user_id = ? AND exchange_pattern = ?').get(user.id, exchangePattern) as GrantRow | undefined;
      const merged = new Set<Action>([...(existing ? toGrant(existing).actions : []), ...wanted]);
      const ordered = ACTIONS.filter((action) => merged.has(action));
      this.prepare(
        'INSERT INTO grants (user_id, exchange_pattern, actions) VALUES (?, ?, ?) ' +
          'ON CONFLICT (user_id, exchange_pattern) DO UPDATE SET actions = excluded.actions',
      ).run(user.id, exchangePattern, ordered.join(','));
      return { exchange: exchangePattern, actions: ordered };
    });
    try {
      return apply.immediate();
    } finally {
      this.changed();
    }
  }

  /** Drops the user's grant on exactly this pattern; `not_found` if it has none. */
  revoke(username: string, exchangePattern: string): void {
    const user = this.findUser(username);
    if (!user) throw noSuchUser(username);
    const info = this.prepare('DELETE FROM grants WHERE user_id = ? AND exchange_pattern = ?').run(user.id, exchangePattern);
    this.changed();
    if (info.changes === 0) {
      throw new MomError('not_found', `user ${username} has no grant on exchange pattern ${JSON.stringify(exchangePattern)}`);
    }
  }

  /**
   * The user's principal when the password matches, else `undefined`. An unknown user costs
   * the same scrypt as a known one, so response time does not tell which names exist.
   */
  async verifyPassword(username: string, password: string): Promise<Principal | undefined> {
    return (await this.verifyLogin(username, password))?.principal;
  }

  /**
   * verifyPassword with the token epoch to issue the token at: the epoch of the password that
   * matched, so a token won with a password changed meanwhile is born stale.
   */
  async verifyLogin(username: string, password: string): Promise<LiveUser | undefined> {
    const user = typeof username === 'string' ? this.findUser(username) : undefined;
    if (!user || typeof password !== 'string') {
      await verifyHash(String(password), DUMMY_HASH);
      return undefined;
    }
    if (!(await verifyHash(password, user.password_hash))) return undefined;
    // Read again: the user may have been removed or changed while scrypt ran.
    const principal = this.principal(username);
    if (!principal || principal.userId !== user.id) return undefined;
    return { principal, tokenEpoch: user.token_epoch };
  }

  /** The principal and token epoch as stored now, or `undefined` if no such user. */
  liveUser(username: string): LiveUser | undefined {
    const version = this.prepare('PRAGMA data_version').pluck().get() as number;
    if (version !== this.cachedAtVersion) {
      this.liveUsersCache.clear();
      this.cachedAtVersion = version;
    }
    if (this.liveUsersCache.has(username)) return this.liveUsersCache.get(username);
    const live = this.readLiveUser(username);
    this.liveUsersCache.set(username, live);
    return live;
  }

  /** This connection wrote: data_version does not move for its own commits. */
  private changed(): void {
    this.liveUsersCache.clear();
  }

  private readLiveUser(username: string): LiveUser | undefined {
    const user = this.findUser(username);
    if (!user) return undefined;
    const rows = this.prepare('SELECT user_id, exchange_pattern, actions FROM grants WHERE user_id = ? ORDER BY exchange_pattern')
      .all(user.id) as GrantRow[];
    return { principal: { userId: user.id, username: user.username, admin: user.admin === 1, grants: rows.map(toGrant) }, tokenEpoch: user.token_epoch };
  }

  /** Every user with its token epoch: what the auth role serves to remote verifiers. */
  liveUsers(): LiveUser[] {
    const epochs = new Map(
      (this.prepare('SELECT id, token_epoch FROM users').all() as Array<{ id: number; token_epoch: number }>).map((row) => [row.id, row.token_epoch]),
    );
    return this.listUsers().map((user) => ({
      principal: { userId: user.id, username: user.username, admin: user.admin, grants: user.grants },
      tokenEpoch: epochs.get(user.id) ?? 0,
    }));
  }

  /** The live principal (admin flag and grants as stored now), or `undefined` if no such user. */
  principal(username: string): Principal | undefined {
    return this.liveUser(username)?.principal;
  }

  close(): void {
    const db = this.db;
    this.db = undefined;
    this.statements.clear();
    db?.close();
  }

  private findUser(username: string): UserRow | undefined {
    return this.prepare('SELECT id, username, password_hash, admin, created_at, token_epoch FROM users WHERE username = ?')
      .get(username) as UserRow | undefined;
  }

  private open(): Database.Database {
    if (!this.db) throw new MomError('unavailable', `user database ${this.path} is closed`);
    return this.db;
  }

  private prepare(sql: string): Database.Statement {
    const db = this.open();
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}

function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new MomError('config_invalid', `user database schema version ${version} is newer than this mombroker supports (${SCHEMA_VERSION})`);
  }
  if (version === SCHEMA_VERSION) return;
  db.transaction(() => {
    // Read again under the write lock: another process (the CLI, a broker) may have migrated.
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current === SCHEMA_VERSION) return;
    // Version 1 had no token epochs: its users start at 0, as do tokens without the claim.
    if (current === 1) db.exec('ALTER TABLE users ADD COLUMN token_epoch INTEGER NOT NULL DEFAULT 0');
    db.exec(`
      CREATE TABLE IF NOT EXISTS users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        admin INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        token_epoch INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE IF NOT EXISTS grants (
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        exchange_pattern TEXT NOT NULL,
        actions TEXT NOT NULL,
        PRIMARY KEY (user_id, exchange_pattern)
      );
    `);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

function toGrant(row: GrantRow): Grant {
  return { exchange: row.exchange_pattern, actions: row.actions.split(',').filter(isAction) };
}

function assertPassword(password: string): void {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH) {
    throw new MomError('bad_request', `password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new MomError('bad_request', `password must have at most ${MAX_PASSWORD_LENGTH} characters`);
  }
}

export function assertPattern(pattern: string): string {
  if (typeof pattern !== 'string' || !PATTERN_RE.test(pattern)) {
    throw new MomError(
      'invalid_name',
      `exchange pattern ${JSON.stringify(String(pattern).slice(0, 140))} is invalid: use an exchange name ` +
        '(A-Z a-z 0-9 _ - ., not starting with a dot) where * matches any run of characters',
    );
  }
  return pattern;
}

function parseActions(actions: readonly string[]): Action[] {
  const list = actions.map((action) => action.trim()).filter((action) => action !== '');
  if (list.length === 0) throw new MomError('bad_request', `name at least one action: ${ACTIONS.join(', ')}`);
  for (const action of list) {
    if (!isAction(action)) {
      throw new MomError('bad_request', `unknown action ${JSON.stringify(action)}: use ${ACTIONS.join(', ')}`);
    }
  }
  return list as Action[];
}

function userExists(username: string): MomError {
  return new MomError('conflict', `user ${username} already exists; use "users passwd" to change its password`);
}

function noSuchUser(username: string): MomError {
  return new MomError('not_found', `no user named ${JSON.stringify(username)}`);
}

function scryptAsync(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLength, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** `scrypt$N$r$p$<salt b64>$<hash b64>`: self-describing, so the cost can rise later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SCRYPT.saltBytes);
  const key = await scryptAsync(password, salt, SCRYPT.keyBytes, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: SCRYPT_MAXMEM });
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64'), key.toString('base64')].join('$');
}

/** Constant-time comparison against a stored hash; a malformed hash never matches. */
export async function verifyHash(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4]!, 'base64');
  const expected = Buffer.from(parts[5]!, 'base64');
  if (![N, r, p].every((n) => Number.isSafeInteger(n) && n > 0) || expected.length === 0 || salt.length === 0) return false;
  let actual: Buffer;
  try {
    actual = await scryptAsync(password, salt, expected.length, { N, r, p, maxmem: SCRYPT_MAXMEM });
  } catch {
    return false;
  }
  return timingSafeEqual(actual, expected);
}
