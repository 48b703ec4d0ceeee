/**
 * classifyFailure: how one failed attempt becomes a ProxyError. The kind of failure decides
 * the code; the cause's errno or TLS code only words the message, which names the target and
 * never carries request data.
 */
import { describe, expect, it } from 'vitest';
import { createTarget } from '../../src/balancer/target.js';
import { classifyFailure, type FailureKind } from '../../src/errors/classify-error.js';
import { ProxyError } from '../../src/errors/proxy-error.js';

const target = createTarget({ url: 'http://127.0.0.1:3001', name: 'api-1' });

/** An error as node:net, node:tls or dns report it. */
function withCode(code: unknown): Error {
  return Object.assign(new Error('GET /secret?token=abc failed'), { code });
}

describe('classifyFailure', () => {
  const cases: { case: string; kind: FailureKind; cause: unknown; code: string; status: number; message: string }[] = [
    { case: 'a response timeout', kind: 'timeout', cause: new Error('x'), code: 'UPSTREAM_TIMEOUT', status: 504, message: 'upstream api-1 did not answer in time' },
    { case: 'a connect timeout', kind: 'connect-timeout', cause: new Error('x'), code: 'UPSTREAM_UNAVAILABLE', status: 502, message: 'could not connect to upstream api-1 in time' },
    { case: 'ECONNREFUSED', kind: 'error', cause: withCode('ECONNREFUSED'), code: 'UPSTREAM_UNAVAILABLE', status: 502, message: 'connection refused: upstream api-1' },
    { case: 'ECONNRESET', kind: 'error', cause: withCode('ECONNRESET'), code: 'UPSTREAM_UNAVAILABLE', status: 502, message: 'connection reset: upstream api-1' },
    { case: 'EPIPE', kind: 'error', cause: withCode('EPIPE'), code: 'UPSTREAM_UNAVAILABLE', status: 502, message: 'connection closed while sending: upstream api-1' },
    { case: 'ENOTFOUND', kind: 'error', cause: withCode('ENOTFOUND'), code: 'UPSTREAM_UNAVAILABLE', status: 502, message: 'host not found: upstream api-1' },
    { case: 'EAI_AGAIN', kind: 'error', cause: withCode('EAI_AGAIN'), code: 'UPSTREAM_UNAVAILABLE', status: 502, message: 'host lookup failed: upstream api-1' },
    { case: 'EHOSTUNREACH', kind: 'error', cause: withCode('EHOSTUNREACH'), code: 'UPSTREAM_UNAVAILABLE', status: 502, message: 'host unreachable: upstream api-1' },
    { case: 'ENETUNREACH', kind: 'error', cause: withCode('ENETUNREACH'), code: 'UPSTREAM_UNAVAILABLE', status: 502, message: 'network unreachable: upstream api-1' },
    { case: 'ETIMEDOUT (the kernel gave up connecting)', kind: 'error', cause: withCode('ETIMEDOUT'), code: 'UPSTREAM_UNAVAILABLE', status: 502, message: 'connection timed out: upstream api-1' },
    { case: 'a TLS error', kind: 'error', cause: withCode('ERR_TLS_CERT_ALTNAME_INVALID'), code: 'UPSTREAM_UNAVAILABLE', status: 502, message: 'TLS failure (ERR_TLS_CERT_ALTNAME_INVALID): upstream api-1' },
    { case: 'an expired certificate', kind: 'error', cause: withCode('CERT_HAS_EXPIRED'), code: 'UPSTREAM_UNAVAILABLE', status: 502, message: 'TLS failure (CERT_HAS_EXPIRED): upstream api-1' },
    { case: 'a self-signed certificate', kind: 'error', cause: withCode('DEPTH_ZERO_SELF_SIGNED_CERT'), code: 'UPSTREAM_UNAVAILABLE', status: 502, message: 'TLS failure (DEPTH_ZERO_SELF_SIGNED_CERT): upstream api-1' },
    { case: 'an unknown issuer', kind: 'error', cause: withCode('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), code: 'UPSTREAM_UNAVAILABLE', status: 502, message: 'TLS failure (UNABLE_TO_VERIFY_LEAF_SIGNATURE): upstream api-1' },
    { case: 'an OpenSSL error', kind: 'error', cause: withCode('ERR_SSL_WRONG_VERSION_NUMBER'), code: 'UPSTREAM_UNAVAILABLE', status: 502, message: 'TLS failure (ERR_SSL_WRONG_VERSION_NUMBER): upstream api-1' },
    { case: 'any other code', kind: 'error', cause: withCode('EPROTO'), code: 'UPSTREAM_UNAVAILABLE', status: 502, message: 'upstream failed (EPROTO): upstream api-1' },
    { case: 'an error without a code', kind: 'error', cause: new Error('boom'), code: 'UPSTREAM_UNAVAILABLE', status: 502, message: 'upstream failed: upstream api-1' },
    { case: 'a non-string code', kind: 'error', cause: withCode(7), code: 'UPSTREAM_UNAVAILABLE', status: 502, message: 'upstream failed: upstream api-1' },
    { case: 'no error object at all', kind: 'error', cause: null, code: 'UPSTREAM_UNAVAILABLE', status: 502, message: 'upstream failed: upstream api-1' },
  ];

  it.each(cases)('$case → $code $status', ({ kind, cause, code, status, message }) => {
    const err = classifyFailure(kind, cause, { target, attempts: 2, connected: true });
    expect(err).toBeInstanceOf(ProxyError);
    expect({ code: err.code, status: err.status, message: err.message }).toEqual({ code, status, message });
    // Context is carried as given; the cause is kept, but its text never reaches the message.
    expect({ target: err.target, attempts: err.attempts, connected: err.connected, cause: err.cause }).toEqual({
      target,
      attempts: 2,
      connected: true,
      cause,
    });
    expect(err.message).not.toContain('secret');
  });
});
