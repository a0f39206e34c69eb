import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JSONWebKeySet, type JWK, type KeyLike } from 'jose';
import { MomError } from '../../core/errors';
import { ensurePrivateDir, makePrivateFile, PRIVATE_FILE_MODE } from '../../runtime/private-files';

/**
 * The auth role's Ed25519 signing key (DESIGN §7). The private JWK lives in
 * `<data>/auth/signing-key.json` (mode 0600) so tokens survive restarts; only the public half
 * ever leaves this process, as the JWKS that gateways and nodes verify with.
 */
export const SIGNING_KEY_RELATIVE_PATH = join('auth', 'signing-key.json');

export interface SigningKey {
  /** RFC 7638 thumbprint of the public key: stable across restarts, changes with the key. */
  readonly kid: string;
  readonly privateKey: KeyLike;
  readonly publicJwk: JWK;
  /** `{keys:[{...publicJwk, kid, alg:'EdDSA', use:'sig'}]}`, served at /.well-known/jwks.json. */
  readonly jwks: JSONWebKeySet;
  readonly path: string;
}

export async function loadOrCreateSigningKey(dataDir: string): Promise<SigningKey> {
  const path = join(dataDir, SIGNING_KEY_RELATIVE_PATH);
  ensurePrivateDir(dirname(path), { tighten: true });
  let text = readIfExists(path);
  if (text === undefined) {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const jwk = await exportJWK(privateKey);
    // Two processes starting on one data dir: the first file wins and both use it.
    writeNewSecretFile(path, `${JSON.stringify({ ...jwk, alg: 'EdDSA', use: 'sig' })}\n`);
    text = readFileSync(path, 'utf8');
  }
  makePrivateFile(path);
  return fromPrivateJwk(text, path);
}

async function fromPrivateJwk(text: string, path: string): Promise<SigningKey> {
  let jwk: JWK;
  try {
    jwk = JSON.parse(text) as JWK;
  } catch (error) {
    throw new MomError('config_invalid', `signing key ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string' || typeof jwk.d !== 'string') {
    throw new MomError('config_invalid', `signing key ${path} is not an Ed25519 private JWK; move it away to generate a new key`);
  }
  let privateKey: KeyLike;
  try {
    privateKey = (await importJWK({ kty: 'OKP', crv: 'Ed25519', x: jwk.x, d: jwk.d }, 'EdDSA')) as KeyLike;
  } catch (error) {
    throw new MomError('config_invalid', `signing key ${path} cannot be loaded: ${(error as Error).message}`, { cause: error });
  }
  const publicJwk: JWK = { kty: 'OKP', crv: 'Ed25519', x: jwk.x };
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
  return {
    kid,
    privateKey,
    publicJwk,
    jwks: { keys: [{ ...publicJwk, kid, alg: 'EdDSA', use: 'sig' }] },
    path,
  };
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Writes a secret file (mode 0600) only if `path` does not exist yet, atomically: readers see
 * no file or the whole file, never part of one, and an existing file is never replaced.
 * Returns whether this call created it.
 */
export function writeNewSecretFile(path: string, content: string): boolean {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', PRIVATE_FILE_MODE);
  try {
    // The mode given to open is masked by the umask: set it exactly.
    fchmodSync(fd, PRIVATE_FILE_MODE);
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    try {
      // link(2) fails with EEXIST instead of replacing, unlike rename(2).
      linkSync(tmp, path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
      // A file system without hard links: rename, after checking (a small race, but no partial file).
      if (readIfExists(path) !== undefined) return false;
      renameSync(tmp, path);
    }
    syncDirectory(dirname(path));
    return true;
  } finally {
    rmSync(tmp, { force: true });
  }
}

function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Not every platform can fsync a directory; the file itself is already synced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
