/**
 * Every file and directory the broker creates is private (DESIGN §7): directories 0700, files
 * 0600, whatever the umask (a mode given to mkdir or open is masked by it, so the mode is set
 * again with chmod), and also when they already exist from an older version that made them
 * 0755/0644. Directories are created one level at a time: Node's recursive mkdir spins forever
 * on paths where mkdir(2) answers ENOENT for an existing parent (`/proc/nope`).
 */
import { accessSync, chmodSync, constants, mkdirSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { MomError } from '../core/errors';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

export interface PrivateDirOptions {
  /**
   * Make an existing directory 0700 too. For the broker's own subdirectories (`node/`, `auth/`);
   * not for the data directory itself when the operator made it.
   */
  tighten?: boolean;
  /** Names the setting in error messages (`data`). */
  setting?: string;
}

/** Creates `dir` (and missing parents) as 0700; returns whether it had to create `dir`. */
export function ensurePrivateDir(dir: string, options: PrivateDirOptions = {}): boolean {
  const requested = resolve(dir);
  return ensureDir(requested, requested, options);
}

function ensureDir(path: string, requested: string, options: PrivateDirOptions): boolean {
  const fail = (why: string) => unusable(requested, path === requested ? why : `${path}: ${why}`, options.setting);
  const existing = statOrUndefined(path, fail);
  if (existing) {
    if (!existing.isDirectory()) throw fail('it exists and is not a directory');
    if (options.tighten && path === requested && (existing.mode & 0o777) !== PRIVATE_DIR_MODE) chmodPrivate(path, fail);
    return false;
  }
  const parent = dirname(path);
  if (parent !== path) ensureDir(parent, requested, options);
  try {
    mkdirSync(path, { mode: PRIVATE_DIR_MODE });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Made meanwhile by another process (two roles starting on one data dir): fine.
    if (code !== 'EEXIST') throw fail(`cannot create it (${code ?? (error as Error).message})`);
    return ensureDir(path, requested, options);
  }
  chmodPrivate(path, fail);
  return true;
}

/** Makes `path` 0600 when it exists (a database's -wal and -shm may not yet). */
export function makePrivateFile(path: string): void {
  try {
    if ((statSync(path).mode & 0o777) !== PRIVATE_FILE_MODE) chmodSync(path, PRIVATE_FILE_MODE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** A SQLite database and its WAL files: SQLite gives new -wal/-shm files the database's mode. */
export function makeDatabasePrivate(dbPath: string): void {
  for (const file of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`, `${dbPath}-journal`]) makePrivateFile(file);
}

/**
 * The data directory a start is about to use (DESIGN §8: an unusable one ends the start at once,
 * naming it, before anything is written): created if missing, and it must be a writable directory.
 */
export function prepareDataDir(dir: string): void {
  ensurePrivateDir(dir, { setting: 'data' });
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw unusable(resolve(dir), `it is not writable (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, 'data');
  }
}

function statOrUndefined(path: string, fail: (why: string) => MomError): Stats | undefined {
  try {
    return statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw fail(code === 'ENOTDIR' ? 'a part of its path is not a directory (ENOTDIR)' : `cannot read it (${code ?? (error as Error).message})`);
  }
}

function chmodPrivate(path: string, fail: (why: string) => MomError): void {
  try {
    chmodSync(path, PRIVATE_DIR_MODE);
  } catch (error) {
    throw fail(`cannot make it private (chmod 700: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

function unusable(path: string, why: string, setting: string | undefined): MomError {
  const prefix = setting ? `${setting}: ` : '';
  const hint = setting === 'data' ? '; choose another with --data (or MOM_DATA)' : '';
  return new MomError('config_invalid', `${prefix}cannot use directory ${path}: ${why}${hint}`);
}
