import { MomError } from '../core/errors';

/**
 * SQLite's result codes for a write the disk refused (https://sqlite.org/rescode.html):
 * SQLITE_FULL when the file system has no room, SQLITE_IOERR_* when the device failed. Both
 * leave the database as it was before the transaction; anything else (a constraint, a bug)
 * is not the disk's fault and says nothing about whether the next write can succeed.
 */
export function isStorageError(error: unknown): boolean {
  const code = sqliteCode(error);
  return code === 'SQLITE_FULL' || code === 'SQLITE_IOERR' || code.startsWith('SQLITE_IOERR_');
}

/** The error a client gets for a write the disk refused: retryable, and nothing was stored. */
export function storageFailure(dataDir: string, cause: unknown): MomError {
  const full = sqliteCode(cause) === 'SQLITE_FULL';
  const what = full ? `the disk holding ${dataDir} is full` : `the disk holding ${dataDir} failed a write (${sqliteCode(cause) || 'I/O error'})`;
  return new MomError('insufficient_storage', `${what}; nothing was stored. Free space on it (or fix the device); this node writes again once it can`, {
    cause,
  });
}

function sqliteCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}
