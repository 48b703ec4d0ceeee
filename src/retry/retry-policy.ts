/** When a failed attempt may be tried again. */
import type { IncomingMessage } from 'node:http';
import type { ProxyError } from '../errors/proxy-error.js';

const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/** GET, HEAD and OPTIONS: the methods whose failed or unwanted responses may be retried. */
export function isIdempotent(req: IncomingMessage): boolean {
  return IDEMPOTENT.has(req.method ?? 'GET');
}

/**
 * The contract's default `retryFilter`: a connection that was never established is safe to
 * retry for any method (the upstream saw nothing); a failure after connecting only for
 * GET, HEAD and OPTIONS. Timeouts and other codes are not retried by default.
 */
export function defaultRetryFilter(err: ProxyError, req: IncomingMessage): boolean {
  return err.code === 'UPSTREAM_UNAVAILABLE' && (!err.connected || isIdempotent(req));
}
