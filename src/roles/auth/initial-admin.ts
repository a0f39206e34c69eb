import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MomError } from '../../core/errors';
import { makePrivateFile } from '../../runtime/private-files';
import type { Logger } from '../../runtime/logger';
import { MIN_PASSWORD_LENGTH, type UserDatabase } from '../../store/user-database';
import { writeNewSecretFile } from './signing-key';

export const ADMIN_USERNAME = 'admin';
export const ADMIN_PASSWORD_ENV = 'MOM_ADMIN_PASSWORD';
export const INITIAL_ADMIN_PASSWORD_FILE = 'initial-admin-password';

export type InitialAdminOutcome = 'existing-users' | 'from-env' | 'from-file' | 'generated';

export interface InitialAdminOptions {
  users: UserDatabase;
  dataDir: string;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
}

/**
 * DESIGN §7: the first start of an empty user database creates `admin` with the password from
 * MOM_ADMIN_PASSWORD, or a random one written once to `<data>/initial-admin-password` (0600)
 * and named on stderr. Once any user exists this does nothing, so removing `admin` sticks.
 * The file is written before the user, and reused if present, so a crash in between cannot
 * leave an admin whose password nobody knows; it is never overwritten.
 */
export async function ensureInitialAdmin(options: InitialAdminOptions): Promise<InitialAdminOutcome> {
  const { users, dataDir, logger } = options;
  const file = join(dataDir, INITIAL_ADMIN_PASSWORD_FILE);
  // Left by an earlier start, maybe of a version that made it readable by others.
  makePrivateFile(file);
  if (users.countUsers() > 0) return 'existing-users';
  const fromEnv = (options.env ?? process.env)[ADMIN_PASSWORD_ENV];
  let password: string;
  let outcome: InitialAdminOutcome;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (fromEnv.length < MIN_PASSWORD_LENGTH) {
      throw new MomError('config_invalid', `${ADMIN_PASSWORD_ENV}: expected at least ${MIN_PASSWORD_LENGTH} characters`);
    }
    password = fromEnv;
    outcome = 'from-env';
  } else {
    const generated = randomBytes(24).toString('base64url'); // 32 characters
    outcome = writeNewSecretFile(file, `${generated}\n`) ? 'generated' : 'from-file';
    password = readFileSync(file, 'utf8').trim();
    if (password.length < MIN_PASSWORD_LENGTH) {
      throw new MomError('config_invalid', `${file} holds no usable password: delete it or set ${ADMIN_PASSWORD_ENV}`);
    }
  }
  let created;
  try {
    created = await users.addFirstUser(ADMIN_USERNAME, password, { admin: true });
  } catch (error) {
    // Another auth role on the same data dir created admin first: that is fine.
    if (error instanceof MomError && error.code === 'conflict') return 'existing-users';
    throw error;
  }
  // `users add` (or another process) added someone while we were hashing.
  if (!created) return 'existing-users';
  if (outcome === 'from-env') {
    logger.info('created initial admin user', { user: ADMIN_USERNAME, passwordFrom: ADMIN_PASSWORD_ENV });
  } else {
    logger.warn(`created initial admin user; its password is in ${file}: log in, then change it or delete the file`, {
      user: ADMIN_USERNAME,
      passwordFile: file,
    });
  }
  return outcome;
}
