/**
 * Test certificates, generated at test time with the `openssl` CLI into a fresh temp dir
 * (never committed). EC P-256 keys keep generation fast. Certificates are valid for 2 days.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A PEM certificate and its PEM private key. */
export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

export interface TestCerts {
  /** The server CA's certificate (PEM): trust it with `tls: { ca }`. */
  readonly ca: string;
  /** Signed by `ca`; SAN `IP:127.0.0.1`, `DNS:localhost`. */
  readonly server: KeyPair;
  /** Self-signed; SAN `IP:127.0.0.1`, `DNS:localhost`. */
  readonly selfSigned: KeyPair;
  /** The CA that signs client certificates (PEM): an mTLS upstream's `ca`. */
  readonly clientCa: string;
  /** Client certificate (CN `switchyard-client`, EKU clientAuth) signed by `clientCa`. */
  readonly client: KeyPair;
  /** Removes the temp dir. Idempotent. */
  cleanup(): Promise<void>;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const SERVER_SAN = 'subjectAltName=IP:127.0.0.1,DNS:localhost';

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

/** A self-signed certificate; `ca` makes it a CA that can sign others. */
async function selfSigned(dir: string, name: string, subject: string, extensions: string[]): Promise<void> {
  const addext = extensions.flatMap((e) => ['-addext', e]);
  await openssl(dir, ['req', '-x509', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', subject, ...addext]);
}

/** A certificate signed by the CA `caName`, with `extensions` (openssl extfile lines). */
async function signed(dir: string, name: string, caName: string, subject: string, extensions: string[]): Promise<void> {
  await writeFile(join(dir, `${name}.ext`), `${extensions.join('\n')}\n`);
  await openssl(dir, ['req', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  await openssl(dir, [
    'x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.crt`, '-CAkey', `${caName}.key`,
    '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`,
  ]);
}

async function pair(dir: string, name: string): Promise<KeyPair> {
  const [cert, key] = await Promise.all([readFile(join(dir, `${name}.crt`), 'utf8'), readFile(join(dir, `${name}.key`), 'utf8')]);
  return { cert, key };
}

const CA_EXT = ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign'];

/**
 * Generates a server CA with a server certificate, a self-signed server certificate, and a
 * client CA with a client certificate for mutual TLS.
 *
 * ```ts
 * let certs: TestCerts;
 * beforeAll(async () => { certs = await generateCerts(); });
 * afterAll(() => certs.cleanup());
 * ```
 */
export async function generateCerts(): Promise<TestCerts> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-certs-'));
  try {
    await Promise.all([
      selfSigned(dir, 'ca', '/CN=switchyard test CA', CA_EXT),
      selfSigned(dir, 'client-ca', '/CN=switchyard test client CA', CA_EXT),
      selfSigned(dir, 'self-signed', '/CN=localhost', [SERVER_SAN]),
    ]);
    await Promise.all([
      signed(dir, 'server', 'ca', '/CN=localhost', [SERVER_SAN, 'extendedKeyUsage=serverAuth']),
      signed(dir, 'client', 'client-ca', '/CN=switchyard-client', ['extendedKeyUsage=clientAuth']),
    ]);
    const [ca, clientCa, server, self, client] = await Promise.all([
      readFile(join(dir, 'ca.crt'), 'utf8'),
      readFile(join(dir, 'client-ca.crt'), 'utf8'),
      pair(dir, 'server'),
      pair(dir, 'self-signed'),
      pair(dir, 'client'),
    ]);
    let removed: Promise<void> | undefined;
    return {
      ca, server, selfSigned: self, clientCa, client,
      cleanup: () => (removed ??= rm(dir, { recursive: true, force: true })),
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
