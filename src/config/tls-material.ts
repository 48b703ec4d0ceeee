/**
 * Checks `tls.ca`, `tls.cert` and `tls.key` when `proxy()` is called. Node only reads this
 * material when the first `https:` connection is made, so without these checks a typo in a
 * PEM surfaced as a 502 on every request instead of an error naming the option.
 *
 * Messages describe the material by size and PEM labels only: its content is never shown,
 * since a "certificate" may well be a private key passed to the wrong option.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { configError } from './validate.js';

/** PEM text as the `tls` option accepts it (shape already checked by the caller). */
export type PemInput = string | Buffer;

export interface TlsMaterial {
  readonly ca?: PemInput | readonly PemInput[] | undefined;
  readonly cert?: PemInput | undefined;
  readonly key?: PemInput | undefined;
}

// The end marker is optional so that a truncated last block is still found, and then fails to parse.
// `TRUSTED CERTIFICATE` (openssl -trustout) is a certificate with trust settings; Node accepts it.
const CERT_BLOCK = /-----BEGIN (?:TRUSTED )?CERTIFICATE-----[\s\S]*?(?:-----END (?:TRUSTED )?CERTIFICATE-----|$)/g;
const PEM_LABEL = /-----BEGIN ([A-Z0-9 ]+)-----/;
const PEM_LABEL_ALL = new RegExp(PEM_LABEL.source, 'g');
const ENCRYPTED_KEY = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,\s*ENCRYPTED/;

const CERT_EXAMPLE = "fs.readFileSync('client.crt')";
const KEY_EXAMPLE = "fs.readFileSync('client.key')";
const CA_EXAMPLE = "fs.readFileSync('ca.pem')";

/** Throws a ConfigError naming the option when any TLS material present cannot be used. */
export function checkTlsMaterial({ ca, cert, key }: TlsMaterial): void {
  if (ca !== undefined) checkCa(ca);
  const leaf = cert === undefined ? undefined : checkCertChain('tls.cert', cert, 'a PEM certificate or chain', CERT_EXAMPLE);
  const privateKey = key === undefined ? undefined : checkKey(key);
  if (leaf !== undefined && privateKey !== undefined && !leaf.checkPrivateKey(privateKey)) {
    throw configError('tls', 'cert and key do not match: tls.key is not the private key of the first certificate in tls.cert');
  }
}

function checkCa(ca: PemInput | readonly PemInput[]): void {
  if (isPemInput(ca)) return checkCaEntry('tls.ca', ca);
  if (ca.length === 0) {
    // Node would trust no CA at all: every https upstream would then fail verification.
    throw configError('tls.ca', 'is an empty list, which trusts no CA; leave ca out to use Node\'s bundled roots', "[...tls.rootCertificates, fs.readFileSync('ca.pem')]");
  }
  ca.forEach((entry, i) => checkCaEntry(`tls.ca[${i}]`, entry));
}

function isPemInput(value: PemInput | readonly PemInput[]): value is PemInput {
  return typeof value === 'string' || Buffer.isBuffer(value);
}

// `[...tls.rootCertificates, myCa]` is the documented way to extend the trust store; Node's
// own roots are known good, and parsing all ~150 of them would cost tens of ms per proxy().
let bundledRoots: ReadonlySet<string> | undefined;

function checkCaEntry(option: string, entry: PemInput): void {
  bundledRoots ??= new Set(rootCertificates);
  if (typeof entry === 'string' && bundledRoots.has(entry)) return;
  checkCertChain(option, entry, 'a PEM CA certificate or bundle', CA_EXAMPLE);
}

/** Parses every certificate block of `value`; returns the first (the leaf, for a chain). */
function checkCertChain(option: string, value: PemInput, expected: string, example: string): X509Certificate {
  const text = pemText(value);
  const blocks = text.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) {
    throw configError(option, `must be ${expected}, got ${describeMaterial(value, text)}`, example);
  }
  const parsed = blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      const which = `certificate ${i + 1} of ${blocks.length}`;
      throw configError(option, `must be ${expected}, but ${which} does not parse (${reason(err)})`, example);
    }
  });
  return parsed[0]!;
}

function checkKey(value: PemInput): KeyObject {
  const text = pemText(value);
  if (ENCRYPTED_KEY.test(text)) {
    throw configError(
      'tls.key',
      'is an encrypted private key, and switchyard has no passphrase option: give it decrypted',
      'openssl pkey -in client.key -out client-decrypted.key',
    );
  }
  try {
    return createPrivateKey(value);
  } catch (err) {
    const got = describeMaterial(value, text);
    // OpenSSL's reason only helps once there is a PEM block: for plain text it is just "unsupported".
    const why = PEM_LABEL.test(text) ? ` that does not parse as a private key (${reason(err)})` : '';
    throw configError('tls.key', `must be a PEM private key, got ${got}${why}`, KEY_EXAMPLE);
  }
}

// latin1 maps every byte to one character, so a binary (DER) Buffer cannot break the regexes.
function pemText(value: PemInput): string {
  return typeof value === 'string' ? value : value.toString('latin1');
}

/** `a string of 9 characters with no PEM block`, `a Buffer of 241 bytes with a "PRIVATE KEY" block`. */
function describeMaterial(value: PemInput, text: string): string {
  const size = typeof value === 'string' ? `a string of ${value.length} characters` : `a Buffer of ${value.length} bytes`;
  const labels = [...new Set(Array.from(text.matchAll(PEM_LABEL_ALL), (m) => `"${m[1]}"`))];
  if (labels.length === 0) return `${size} with no PEM block`;
  return labels.length === 1 ? `${size} with a ${labels[0]} block` : `${size} with ${labels.join(', ')} blocks`;
}

/** OpenSSL's reason without its numeric prefix: `error:04800064:PEM routines::bad base64 decode` → `bad base64 decode`. */
function reason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('::').pop() ?? message;
}
