/** The one place errno and TLS error codes are read and turned into a {@link ProxyError}. */
import type { ProxyTarget } from '../types.js';
import { ProxyError } from './proxy-error.js';

/** Why an attempt failed, as the forwarder saw it. */
/**
 * Why an attempt failed, as the transport saw it: an error, no response headers within
 * `timeout`, no connection within `connectTimeout`, the upstream stalled for `idleTimeout`
 * (sending or receiving), or the client stopped sending its body for `idleTimeout`.
 */
export type FailureKind = 'error' | 'timeout' | 'connect-timeout' | 'idle-timeout' | 'client-timeout';

const REASONS: Readonly<Record<string, string>> = Object.freeze({
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  // A Unix-socket target whose socket file is missing, or not ours to open.
  ENOENT: 'no such socket',
  EACCES: 'socket permission denied',
  UND_ERR_SOCKET: 'connection closed by upstream',
  UND_ERR_CLOSED: 'the proxy was closed',
  UND_ERR_DESTROYED: 'the proxy was closed',
});

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function reason(err: unknown): string {
  const code = errorCode(err);
  if (code === undefined) return 'upstream failed';
  if (REASONS[code] !== undefined) return REASONS[code];
  // Node's TLS and certificate failures: ERR_TLS_*, CERT_*, *_SELF_SIGNED_*, UNABLE_TO_*.
  if (/TLS|SSL|CERT|SELF_SIGNED|UNABLE_TO/.test(code)) return `TLS failure (${code})`;
  return `upstream failed (${code})`;
}

/**
 * Classifies one failed attempt. Timeouts map to `UPSTREAM_TIMEOUT` (or, before the connection
 * was made, `UPSTREAM_UNAVAILABLE`); every connection-level failure maps to `UPSTREAM_UNAVAILABLE`.
 * The message names the target but never request data.
 */
export function classifyFailure(
  kind: FailureKind,
  cause: unknown,
  ctx: { target: ProxyTarget; attempts: number; connected: boolean },
): ProxyError {
  const init = { target: ctx.target, attempts: ctx.attempts, connected: ctx.connected, cause };
  if (kind === 'timeout') {
    return new ProxyError('UPSTREAM_TIMEOUT', `upstream ${ctx.target.name} did not answer in time`, init);
  }
  if (kind === 'idle-timeout') {
    return new ProxyError('UPSTREAM_TIMEOUT', `upstream ${ctx.target.name} stalled`, init);
  }
  if (kind === 'client-timeout') {
    return new ProxyError('CLIENT_TIMEOUT', 'the client stopped sending the request body', init);
  }
  if (kind === 'connect-timeout' || errorCode(cause) === 'UND_ERR_CONNECT_TIMEOUT') {
    return new ProxyError('UPSTREAM_UNAVAILABLE', `could not connect to upstream ${ctx.target.name} in time`, init);
  }
  return new ProxyError('UPSTREAM_UNAVAILABLE', `${reason(cause)}: upstream ${ctx.target.name}`, init);
}
