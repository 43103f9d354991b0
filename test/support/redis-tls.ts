// TLS material for test Redis servers, made with openssl in the test's temp dir: a CA and one server certificate
// for 127.0.0.1 / localhost that it signed (EC P-256: quick to generate).
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const openssl = (args: string[]) => promisify(execFile)('openssl', args);
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export interface TestTls {
  /** The CA's certificate (PEM): what REDIS_TLS_CA_FILE names. */
  readonly caFile: string;
  /** redis-server options for TLS on `port` (no client certificates), beside its plain port. */
  serverArgs(port: number): string[];
}

export async function makeTestTls(dir: string): Promise<TestTls> {
  const caFile = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  const certFile = join(dir, 'server.crt');
  const keyFile = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const ext = join(dir, 'server.ext');
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await openssl(['req', '-x509', ...EC, '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', '/CN=skiff test CA']);
  await openssl(['req', ...EC, '-keyout', keyFile, '-out', csr, '-subj', '/CN=localhost']);
  await openssl(['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', ext]);
  return {
    caFile,
    serverArgs: (port) => ['--tls-port', String(port), '--tls-cert-file', certFile, '--tls-key-file', keyFile, '--tls-ca-cert-file', caFile, '--tls-auth-clients', 'no'],
  };
}
