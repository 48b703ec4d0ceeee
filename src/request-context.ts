import type { IncomingMessage } from 'node:http';

/**
 * What one request looks like to the routing and header modules: captured once when the
 * request enters the middleware, so the per-request pipeline passes values, not `req` keys.
 */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly method: string;
  /** Upstream path (raw, percent-encoded, no query); starts as the safe request path, then rewritten. */
  path: string;
  /** The raw query including its `?`, or `''`. Kept byte for byte. */
  query: string;
  /** Client IP address as seen on the socket (no `::ffff:` prefix for IPv4). */
  readonly addr: string;
  /** Scheme the client used to reach us. */
  readonly scheme: 'http' | 'https';
  /** The client's `Host` header, or `''`. */
  readonly host: string;
  /** Route parameters (`req.params`) when mounted on a route with params. */
  readonly params: Readonly<Record<string, string>> | undefined;
}
