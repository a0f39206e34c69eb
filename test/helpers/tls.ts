/**
 * Throwaway certificates for TLS tests, made with openssl (Debian's `openssl` package) in a
 * temp dir removed when the test ends: a CA (`createCa`), and certificates it signs
 * (`issueCertificate`) for 127.0.0.1 and localhost, good for serving HTTPS and gRPC and for
 * presenting as a client (mutual TLS). Keys are EC P-256: fast to make. `trusting(t, ca)` is
 * an undici dispatcher that trusts one CA, for fetch() in tests (`fetch(url, { dispatcher })`).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Agent } from 'undici';

export interface TestCa {
  /** Where its files and those of the certificates it signs are. */
  dir: string;
  name: string;
  certFile: string;
  keyFile: string;
  /** The CA certificate, PEM. */
  pem: Buffer;
}

export interface TestCertificate {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A new self-signed CA in its own temp dir (removed after the test). */
export function createCa(t: TestContext, name = 'mombroker test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'mom-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const slug = name.replace(/[^A-Za-z0-9]+/g, '-');
  const certFile = join(dir, `${slug}.pem`);
  const keyFile = join(dir, `${slug}.key`);
  openssl(['req', '-x509', ...EC_KEY, '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  return { dir, name, certFile, keyFile, pem: readFileSync(certFile) };
}

/**
 * A certificate signed by `ca` for `name`, valid for IP 127.0.0.1 and DNS localhost, usable
 * as a server's and as a client's (mutual TLS).
 */
export function issueCertificate(ca: TestCa, name: string): TestCertificate {
  const certFile = join(ca.dir, `${name}.pem`);
  const keyFile = join(ca.dir, `${name}.key`);
  const csr = join(ca.dir, `${name}.csr`);
  const extensions = join(ca.dir, `${name}.ext`);
  writeFileSync(extensions, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n');
  openssl(['req', ...EC_KEY, '-keyout', keyFile, '-out', csr, '-subj', `/CN=${name}`], ca.dir);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', extensions], ca.dir);
  return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
}

/** An undici dispatcher that trusts `ca` (and nothing else), closed after the test. */
export function trusting(t: TestContext, ca: TestCa): Agent {
  const agent = new Agent({ connect: { ca: ca.pem } });
  t.after(() => agent.close());
  return agent;
}
