/**
 * The request on its way upstream: ONE object per request, made when it enters the
 * middleware (HTTP or WebSocket upgrade) and read by every later step, so the pipeline passes
 * this value instead of keys on `req`. Routing fills in the upstream path and headers, the
 * body step the body; attempts only read it (and set the per-target `host`).
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { RequestBody } from './body/request-body.js';

export interface ProxiedRequest {
  readonly req: IncomingMessage;
  /** The upstream method: the client's, unless `onRequest` changed it. */
  method: string;
  /** Upstream path (raw, percent-encoded, no query); starts as the safe request path, then rewritten. */
  path: string;
  /** The raw query including its `?`, or `''`. Kept byte for byte. */
  query: string;
  /** Client IP address as seen on the socket (no `::ffff:` prefix for IPv4). */
  readonly addr: string;
  /** Scheme the client used to reach us. */
  readonly scheme: 'http' | 'https';
  /** The client's `Host` header (cleaned of CR/LF/NUL), or `''`. */
  readonly host: string;
  /** Route parameters (`req.params`) when mounted on a route with params. */
  readonly params: Readonly<Record<string, string>> | undefined;
  /** Upstream path and query after rewrite and template, before the target prefix. */
  upstreamPath: string;
  /** Upstream request headers (hop-by-hop removed, forwarded headers and rules applied), without `host` unless fixed. */
  headers: OutgoingHttpHeaders;
  /** True when `host` was fixed before the first attempt (preserveHost or a header rule). */
  hostFixed: boolean;
  /** Where each attempt's body comes from. */
  body: RequestBody;
}
