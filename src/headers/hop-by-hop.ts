/**
 * Hop-by-hop headers describe one connection, not the message, so a proxy must not forward
 * them (RFC 9110 §7.6.1; RFC 7230 §6.1). `proxy-connection` is not in the RFC but old clients
 * still send it, and the proxy-auth pair is for this proxy, never the upstream.
 * `http2-settings` belongs to an h2c upgrade of one connection (RFC 7540 §3.2.1) and is
 * connection-specific in HTTP/2: Node's HTTP/2 client throws on it (and on the others here),
 * so one stray `HTTP2-Settings` from a client must never reach an HTTP/2 upstream.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'http2-settings',
]);

// Nearly every Connection header is one of these; they list nothing beyond HOP_BY_HOP.
const COMMON_VALUES: ReadonlySet<string> = new Set([
  'keep-alive',
  'Keep-Alive',
  'close',
  'Close',
  'upgrade',
  'Upgrade',
]);

function addTokens(value: string, into: string[] | undefined): string[] | undefined {
  let start = 0;
  while (start <= value.length) {
    let end = value.indexOf(',', start);
    if (end === -1) end = value.length;
    const token = value.slice(start, end).trim().toLowerCase();
    // `close` is a connection option, not a header name; HOP_BY_HOP names are removed anyway.
    // `Content-Length` frames the message for every recipient (RFC 9110 §7.6.1): honouring
    // `Connection: Content-Length` would send a GET or DELETE body unframed, so the upstream
    // reads it as a second request (request smuggling).
    const kept = token !== '' && token !== 'close' && token !== 'content-length';
    if (kept && !HOP_BY_HOP.has(token)) (into ??= []).push(token);
    start = end + 1;
  }
  return into;
}

/**
 * The extra header names a `Connection` header declares hop-by-hop (RFC 9110 §7.6.1):
 * lowercased and trimmed, leaving out `close`, `content-length` (never dropped: it frames the
 * message) and names already in {@link HOP_BY_HOP}, which callers drop anyway. `undefined`
 * when there are none, so the common `keep-alive` / `close` case allocates nothing.
 */
export function connectionTokens(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return COMMON_VALUES.has(value) ? undefined : addTokens(value, undefined);
  let tokens: string[] | undefined;
  for (const item of value) tokens = addTokens(item, tokens);
  return tokens;
}
