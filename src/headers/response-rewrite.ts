/**
 * Applies `rewriteLocation` and `rewriteCookies` to the filtered upstream header list before
 * it is copied to the client. A response with none of the four headers costs one length test
 * per header name; the mount path, scheme and target prefix are worked out only when needed.
 */
import type { IncomingMessage } from 'node:http';
import { clientIsSecure } from '../balancer/policies/cookie.js';
import type { IsTrusted } from './forwarded.js';
import { compileCookieRewrite, rewriteSetCookie, type CookieRewrite } from './cookie-rewrite.js';
import { mountPath, rewriteRefresh, rewriteUrl, targetPrefix, type ClientView } from './location-rewrite.js';
import type { ProxyTarget } from '../types.js';

/** Compiled `rewriteLocation` / `rewriteCookies`; `undefined` in the config when both are off. */
export interface ResponseRewrites {
  readonly location: boolean;
  readonly cookies: CookieRewrite | undefined;
}

/** Validates both options (`rewriteLocation` is already a boolean). */
export function compileResponseRewrites(location: boolean, cookies: unknown): ResponseRewrites | undefined {
  const compiled = compileCookieRewrite(cookies);
  if (!location && compiled === undefined) return undefined;
  return Object.freeze({ location, cookies: compiled });
}

/** The request facts the view needs. */
export interface RewriteRequest {
  readonly req: IncomingMessage;
  /** The client's Host header, or `''`. */
  readonly host: string;
}

function clientView(p: RewriteRequest, target: ProxyTarget, isTrusted: IsTrusted): ClientView {
  const scheme = clientIsSecure(p.req, isTrusted) ? 'https' : 'http';
  return {
    prefix: targetPrefix(target.url),
    mount: mountPath(p.req),
    origin: p.host === '' ? '' : `${scheme}://${p.host}`,
    target: target.url,
  };
}

// What a header name is to the rewrites.
const NONE = 0;
const URL_VALUE = 1;
const REFRESH = 2;
const COOKIE = 3;
type Kind = typeof NONE | typeof URL_VALUE | typeof REFRESH | typeof COOKIE;

function kindOf(name: string, rw: ResponseRewrites): Kind {
  // Lengths first: most names are none of these and never get lower-cased.
  switch (name.length) {
    case 7: return rw.location && name.toLowerCase() === 'refresh' ? REFRESH : NONE;
    case 8: return rw.location && name.toLowerCase() === 'location' ? URL_VALUE : NONE;
    case 10: return rw.cookies !== undefined && name.toLowerCase() === 'set-cookie' ? COOKIE : NONE;
    case 16: return rw.location && name.toLowerCase() === 'content-location' ? URL_VALUE : NONE;
    default: return NONE;
  }
}

/** `list` (flat name, value, …) with the rewrites applied; `list` itself when nothing changed. */
export function rewriteResponseHeaders(
  rw: ResponseRewrites,
  list: readonly string[],
  p: RewriteRequest,
  target: ProxyTarget,
  isTrusted: IsTrusted,
): readonly string[] {
  let view: ClientView | undefined;
  let out: string[] | undefined;
  for (let i = 0; i < list.length; i += 2) {
    const kind = kindOf(list[i] as string, rw);
    if (kind === NONE) continue;
    view ??= clientView(p, target, isTrusted);
    const value = list[i + 1] as string;
    const next =
      kind === URL_VALUE ? rewriteUrl(value.trim(), view)
      : kind === REFRESH ? rewriteRefresh(value, view)
      : rewriteSetCookie(value, rw.cookies as CookieRewrite, view);
    if (next === undefined || next === value) continue;
    out ??= list.slice();
    out[i + 1] = next;
  }
  return out ?? list;
}
