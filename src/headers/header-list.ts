/**
 * The upstream request headers as the flat `[name, value, …]` list the transport sends, built
 * once per request; each attempt only writes its target's `Host` into the first slot.
 */
import type { OutgoingHttpHeaders } from 'node:http';

/**
 * Names never sent from the header object: framing and connection management belong to the
 * transport, and `Expect` would make the upstream wait for a `100 Continue` that the proxy
 * (which already answered the client's) never waits for. Only a header rule can have put one
 * of these here; hop-by-hop headers from the client were removed before.
 */
const TRANSPORT_OWNED: ReadonlySet<string> = new Set([
  'host', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect', 'te', 'trailer', 'proxy-connection',
]);

/** Index of the `Host` value in a list from {@link toHeaderList}. */
export const HOST_SLOT = 1;

/**
 * `headers` as a flat list with `host` first (its value: `headers.host`, or `''` to be set per
 * attempt). `te: trailers`, the one TE value forwarded, is kept.
 */
export function toHeaderList(headers: OutgoingHttpHeaders): string[] {
  const host = headers.host;
  const list: string[] = ['host', typeof host === 'string' ? host : ''];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    if (TRANSPORT_OWNED.has(lower) && !(lower === 'te' && value === 'trailers')) continue;
    if (Array.isArray(value)) for (const v of value) list.push(name, v);
    else list.push(name, String(value));
  }
  return list;
}
