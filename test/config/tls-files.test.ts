/**
 * src/config/tls-files.ts: the TLS files a process is given are read and checked once, at
 * start. (How a bad one ends a real start, exit 2 and nothing written: test/broker/tls.test.ts.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadTlsMaterial, type TlsSettings } from '../../src/config/tls-files';
import { isMomError } from '../../src/core/errors';
import { createCa, issueCertificate } from '../helpers/tls';

const NONE: TlsSettings = { tlsCert: undefined, tlsKey: undefined, tlsCa: undefined, grpcTlsCert: undefined, grpcTlsKey: undefined, grpcTlsCa: undefined, advertiseUrl: undefined };

test('without TLS settings there is no TLS', () => {
  assert.deepEqual(loadTlsMaterial(NONE), { http: undefined, peerCa: undefined, grpc: undefined });
});

test('the files are read: HTTPS, the CA for other roles, mutual TLS for gRPC', (t) => {
  const ca = createCa(t);
  const node = issueCertificate(ca, 'node-1');
  const material = loadTlsMaterial({
    ...NONE,
    tlsCert: node.certFile,
    tlsKey: node.keyFile,
    tlsCa: ca.certFile,
    grpcTlsCert: node.certFile,
    grpcTlsKey: node.keyFile,
    grpcTlsCa: ca.certFile,
    advertiseUrl: 'https://127.0.0.1:7001',
  });
  assert.deepEqual(material.http, { cert: node.cert, key: node.key });
  assert.deepEqual(material.peerCa, ca.pem);
  assert.deepEqual(material.grpc, { cert: node.cert, key: node.key, ca: ca.pem });
});

test('each problem names the setting and the file', (t) => {
  const ca = createCa(t);
  const node = issueCertificate(ca, 'node-1');
  const refuse = (settings: Partial<TlsSettings>, pattern: RegExp) =>
    assert.throws(
      () => loadTlsMaterial({ ...NONE, ...settings }),
      (error: unknown) => isMomError(error) && error.code === 'config_invalid' && pattern.test(error.message),
      `${JSON.stringify(settings)} → ${pattern}`,
    );
  refuse({ tlsKey: node.keyFile }, /^tls-cert: --tls-key needs --tls-cert too: the certificate of the key in ".*node-1\.key"/);
  refuse({ tlsCert: node.certFile, tlsKey: ca.certFile }, /^tls-key: ".*\.pem" holds no unencrypted PEM private key/);
  refuse({ tlsCert: node.certFile, tlsKey: ca.keyFile }, /^tls-key: the key in .* does not belong to the certificate in ".*node-1\.pem"/);
  refuse({ tlsCa: ca.dir }, /^tls-ca: cannot read ".*": it is a directory \(EISDIR\)/);
  refuse({ grpcTlsCa: ca.certFile }, /^grpc-tls-ca: mutual TLS between nodes needs .* missing --grpc-tls-cert and --grpc-tls-key$/);
  refuse({ grpcTlsCert: node.certFile, grpcTlsKey: node.keyFile, grpcTlsCa: node.keyFile }, /^grpc-tls-ca: ".*node-1\.key" holds no PEM certificate/);
  refuse({ tlsCert: node.certFile, tlsKey: node.keyFile, advertiseUrl: 'http://10.0.0.1:7001' }, /^advertise-url: .* https:\/\/ URL; got "http:\/\/10\.0\.0\.1:7001"/);
});
