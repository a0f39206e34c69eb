/**
 * The TLS files of a process (DESIGN §7), read and checked once at start, before any port is
 * bound: a missing or unreadable file, a file that holds no PEM certificate or key, a key
 * that does not belong to its certificate, or half of a pair stops the start with a message
 * naming the setting and the file (exit code 2, like every bad setting).
 *
 * - `--tls-cert/--tls-key`: the client HTTP listener (every role's) serves HTTPS.
 * - `--tls-ca`: the CA this process trusts when it reaches other roles over HTTPS (a node or
 *   gateway fetching the JWKS and user state from auth, a gateway reaching the partitioner and
 *   the nodes, a node reaching another node). Without it, the system's CAs.
 * - `--grpc-tls-cert/--grpc-tls-key/--grpc-tls-ca`: mutual TLS between replicators, all three
 *   or none: a node presents its certificate and accepts only peers the CA signed.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { MomError } from '../core/errors';
import type { BrokerConfig } from './settings';

/** A certificate (chain) and its private key, as PEM. */
export interface CertificateAndKey {
  cert: Buffer;
  key: Buffer;
}

/** Mutual TLS: what this side presents, and the CA the other side must be signed by. */
export interface MutualTls extends CertificateAndKey {
  ca: Buffer;
}

export interface TlsMaterial {
  /** The client HTTP listener serves HTTPS with these; undefined: plain HTTP. */
  http: CertificateAndKey | undefined;
  /** Trusted for HTTPS to other roles instead of the system's CAs; undefined: the system's. */
  peerCa: Buffer | undefined;
  /** Mutual TLS on inter-node gRPC; undefined: plaintext (the cluster secret still applies). */
  grpc: MutualTls | undefined;
}

export type TlsSettings = Pick<BrokerConfig, 'tlsCert' | 'tlsKey' | 'tlsCa' | 'grpcTlsCert' | 'grpcTlsKey' | 'grpcTlsCa' | 'advertiseUrl'>;

function invalid(setting: string, message: string, cause?: unknown): MomError {
  return new MomError('config_invalid', `${setting}: ${message}`, cause === undefined ? {} : { cause });
}

function readPem(setting: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message;
    throw invalid(setting, `cannot read ${JSON.stringify(path)}: ${why}${code ? ` (${code})` : ''}`, error);
  }
}

function parseCertificate(setting: string, path: string, pem: Buffer): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw invalid(setting, `${JSON.stringify(path)} holds no PEM certificate (-----BEGIN CERTIFICATE-----): ${(error as Error).message}`, error);
  }
}

function parseKey(setting: string, path: string, pem: Buffer): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    throw invalid(setting, `${JSON.stringify(path)} holds no unencrypted PEM private key: ${(error as Error).message}`, error);
  }
}

/** A certificate file and its key file, both given or neither; the key must be the certificate's. */
function loadPair(certSetting: string, certPath: string | undefined, keySetting: string, keyPath: string | undefined): CertificateAndKey | undefined {
  if (certPath === undefined && keyPath === undefined) return undefined;
  if (keyPath === undefined) throw invalid(keySetting, `--${certSetting} needs --${keySetting} too: the private key of the certificate in ${JSON.stringify(certPath)}`);
  if (certPath === undefined) throw invalid(certSetting, `--${keySetting} needs --${certSetting} too: the certificate of the key in ${JSON.stringify(keyPath)}`);
  const cert = readPem(certSetting, certPath);
  const key = readPem(keySetting, keyPath);
  const certificate = parseCertificate(certSetting, certPath, cert);
  const privateKey = parseKey(keySetting, keyPath, key);
  if (!certificate.checkPrivateKey(privateKey)) {
    throw invalid(keySetting, `the key in ${JSON.stringify(keyPath)} does not belong to the certificate in ${JSON.stringify(certPath)}`);
  }
  return { cert, key };
}

function loadCa(setting: string, path: string): Buffer {
  const pem = readPem(setting, path);
  parseCertificate(setting, path, pem);
  return pem;
}

/** Reads and checks every TLS file the settings name; throws a `config_invalid` MomError naming the first problem. */
export function loadTlsMaterial(settings: TlsSettings): TlsMaterial {
  const http = loadPair('tls-cert', settings.tlsCert, 'tls-key', settings.tlsKey);
  if (http && settings.advertiseUrl?.startsWith('http://')) {
    throw invalid('advertise-url', `this process serves HTTPS (--tls-cert), so other processes must reach it at an https:// URL; got ${JSON.stringify(settings.advertiseUrl)}`);
  }
  const peerCa = settings.tlsCa === undefined ? undefined : loadCa('tls-ca', settings.tlsCa);

  const grpcGiven = [
    ['grpc-tls-cert', settings.grpcTlsCert],
    ['grpc-tls-key', settings.grpcTlsKey],
    ['grpc-tls-ca', settings.grpcTlsCa],
  ] as const;
  const missing = grpcGiven.filter(([, value]) => value === undefined).map(([name]) => `--${name}`);
  let grpc: MutualTls | undefined;
  if (missing.length > 0 && missing.length < grpcGiven.length) {
    const given = grpcGiven.find(([, value]) => value !== undefined)![0];
    throw invalid(given, `mutual TLS between nodes needs --grpc-tls-cert, --grpc-tls-key and --grpc-tls-ca together; missing ${missing.join(' and ')}`);
  }
  if (missing.length === 0) {
    const pair = loadPair('grpc-tls-cert', settings.grpcTlsCert, 'grpc-tls-key', settings.grpcTlsKey)!;
    grpc = { ...pair, ca: loadCa('grpc-tls-ca', settings.grpcTlsCa!) };
  }
  return { http, peerCa, grpc };
}
