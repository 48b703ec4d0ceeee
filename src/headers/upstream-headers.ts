import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { RequestContext } from '../request-context.js';
import { setForwardedHeaders, type IsTrusted } from './forwarded.js';
import { applyRequestHeaderRules, escapeHeaderValue, type CompiledHeaderRules } from './header-rules.js';
import { connectionTokens, HOP_BY_HOP } from './hop-by-hop.js';
import { TOKEN } from './token.js';

/** How upstream request headers are built, compiled once in `proxy()`. */
export interface RequestHeaderPlan {
  /** Set `X-Forwarded-For`, `-Proto` and `-Host`. */
  readonly xfwd: boolean;
  /** Whether the direct peer may supply `X-Forwarded-*`. */
  readonly isTrusted: IsTrusted;
  /** The user's `headers` rules, applied last. */
  readonly rules: CompiledHeaderRules | undefined;
}

/**
 * True when a request header name is not an RFC 9110 token (HTTP/2 pseudo-headers aside).
 * Node's strict parser never lets one through; `insecureHTTPParser` or an app writing
 * `req.headers` can. Such a request is refused (400), not forwarded with the name dropped: a
 * lenient parser frames the body by near-misses such as `Transfer-Encoding : chunked`, so
 * dropping the name would send a chunked body with no framing header (request smuggling).
 */
export function hasInvalidHeaderName(req: IncomingMessage): boolean {
  for (const name in req.headers) {
    if (!TOKEN.test(name) && name.charCodeAt(0) !== 58 /* ':' */) return true;
  }
  return false;
}

/**
 * The headers of one upstream request, as a new object built once per request (never a
 * mutation of `req.headers`, so retries start from the pristine request). Dropped: hop-by-hop
 * headers and the names the client's `Connection` lists; `te` unless it is `trailers` (gRPC
 * needs that one); `expect` (Node already answered `100-continue`); `host` (set per attempt);
 * HTTP/2 pseudo-headers; and `content-length` when `transfer-encoding` is present too, since
 * a message with both is a request-smuggling vector (RFC 9112 §6.1) and Node re-chunks.
 * Copied values lose the characters Node refuses in a header value ({@link escapeHeaderValue}).
 * Then forwarded headers when `plan.xfwd`, then the user's rules (a throw propagates).
 */
export function buildUpstreamHeaders(req: IncomingMessage, plan: RequestHeaderPlan, ctx: RequestContext): OutgoingHttpHeaders {
  const src = req.headers;
  const listed = connectionTokens(src.connection);
  const dropLength = src['transfer-encoding'] !== undefined && src['content-length'] !== undefined;
  const out: OutgoingHttpHeaders = {};
  for (const name in src) {
    const value = src[name];
    if (value === undefined || HOP_BY_HOP.has(name) || name === 'host' || name === 'expect') continue;
    if (name.charCodeAt(0) === 58 /* ':' */) continue;
    if (listed !== undefined && listed.includes(name)) continue;
    if (dropLength && name === 'content-length') continue;
    // Copy arrays so later edits to `out` can never reach `req.headers`. Values are cleaned:
    // an app (or a lenient parser) can leave CR, LF or NUL in `req.headers`, which would
    // make Node refuse the upstream request and count it against a healthy target.
    out[name] = typeof value === 'string' ? escapeHeaderValue(value) : value.map(escapeHeaderValue);
  }
  const te = src.te;
  if (typeof te === 'string' && te.trim().toLowerCase() === 'trailers') out.te = 'trailers';
  if (plan.xfwd) setForwardedHeaders(out, req, ctx, ctx.addr !== '' && plan.isTrusted(ctx.addr));
  if (plan.rules !== undefined) applyRequestHeaderRules(plan.rules, out, ctx);
  return out;
}

function isConnection(name: string): boolean {
  return name.length === 10 && name.toLowerCase() === 'connection';
}

/**
 * Upstream response headers never relayed: the hop-by-hop ones, and `Alt-Svc` (RFC 7838),
 * which advertises the upstream's own alternative endpoints (HTTP/3, another port): a client
 * that followed it would bypass the proxy, or fail to reach an internal address. Caddy drops
 * it too. A `responseHeaders` rule can still set the proxy's own.
 */
const NOT_RELAYED: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'alt-svc']);

// Lengths of the NOT_RELAYED names: most response headers are ruled out without lowercasing.
const NOT_RELAYED_LENGTHS: ReadonlySet<number> = new Set([...NOT_RELAYED].map((n) => n.length));

/**
 * Upstream response headers for the client as a flat `[name, value, …]` list in the
 * upstream's letter case, without hop-by-hop headers, the names its `Connection` lists, and
 * `Alt-Svc`. One pass; a second, in place, only when `Connection` lists extra names.
 */
export function filterResponseHeaders(rawHeaders: string[]): string[] {
  const out: string[] = [];
  let listed: string[] | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (NOT_RELAYED_LENGTHS.has(name.length) && NOT_RELAYED.has(name.toLowerCase())) {
      if (isConnection(name)) {
        const tokens = connectionTokens(rawHeaders[i + 1]);
        if (tokens !== undefined) listed = listed === undefined ? tokens : listed.concat(tokens);
      }
      continue;
    }
    out.push(name, rawHeaders[i + 1] as string);
  }
  if (listed === undefined) return out;
  // `Connection` may come after the headers it names, so drop them now.
  let kept = 0;
  for (let i = 0; i < out.length; i += 2) {
    const name = out[i] as string;
    if (listed.includes(name.toLowerCase())) continue;
    out[kept++] = name;
    out[kept++] = out[i + 1] as string;
  }
  out.length = kept;
  return out;
}
