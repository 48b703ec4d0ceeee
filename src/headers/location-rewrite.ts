/**
 * `rewriteLocation`: a redirect (or `Content-Location`, `Refresh`) that points into the
 * target is turned into the URL the client used, so it survives an Express mount path and a
 * target path prefix (nginx's `proxy_redirect default`). Only called for responses that
 * carry one of those headers; nothing here runs on the others.
 */
import type { IncomingMessage } from 'node:http';

/** How the target's URL space looks from the client, computed once per response that needs it. */
export interface ClientView {
  /** The target's path prefix without a trailing `/` (`''` for none). */
  readonly prefix: string;
  /** The Express mount path the request came through (`'/api'`), or `''`. */
  readonly mount: string;
  /** `scheme://host` as the client used it, or `''` when it sent no Host. */
  readonly origin: string;
  /** The target URL (its scheme and host identify absolute URLs into it). */
  readonly target: URL;
}

/** The prefix Express stripped from `req.url` (`req.originalUrl` minus `req.url`), or `''`. */
export function mountPath(req: IncomingMessage): string {
  const original = (req as { originalUrl?: unknown }).originalUrl;
  const url = req.url;
  if (typeof original !== 'string' || url === undefined || original === url) return '';
  const o = pathOnly(original);
  const u = pathOnly(url);
  // Express turns a request for exactly the mount path ('/api') into '/'.
  if (o.endsWith(u)) return trimSlash(o.slice(0, o.length - u.length));
  return u === '/' ? trimSlash(o) : '';
}

function pathOnly(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function trimSlash(path: string): string {
  return path.endsWith('/') ? path.slice(0, -1) : path;
}

/** The target URL's path as a prefix: no trailing `/`, `''` for the root. */
export function targetPrefix(url: URL): string {
  return trimSlash(url.pathname);
}

/**
 * What follows `prefix` in `path` (a path possibly followed by `?query` or `#fragment`), or
 * `undefined` when `path` is not under it. Whole segments only: `/v10` is not under `/v1`.
 */
export function afterPrefix(path: string, prefix: string): string | undefined {
  if (!path.startsWith(prefix)) return undefined;
  const next = path.charCodeAt(prefix.length);
  // NaN (end), '/', '?', '#'
  if (Number.isNaN(next) || next === 47 || next === 63 || next === 35) return path.slice(prefix.length);
  return undefined;
}

/** `mount` then `rest`, always starting with `/`. */
export function underMount(mount: string, rest: string): string {
  const path = mount + rest;
  return path.charCodeAt(0) === 47 ? path : `/${path}`;
}

const ABSOLUTE = /^([a-z][a-z0-9+.-]*:)?\/\/([^/?#]*)(.*)$/is;

function family(protocol: string): string {
  const p = protocol.toLowerCase();
  return p === 'ws:' ? 'http:' : p === 'wss:' ? 'https:' : p;
}

/** The rewritten URL, or `undefined` when `url` does not point into the target. */
export function rewriteUrl(url: string, view: ClientView): string | undefined {
  let path: string;
  if (url.charCodeAt(0) === 47 && url.charCodeAt(1) !== 47) {
    path = url;
  } else {
    const m = ABSOLUTE.exec(url);
    if (m === null) return undefined;
    const scheme = m[1] ?? view.target.protocol;
    if (family(scheme) !== family(view.target.protocol)) return undefined;
    let host: string;
    try {
      // Normalises case and a spelled-out default port the same way the target URL was.
      host = new URL(`${scheme}//${m[2] as string}/`).host;
    } catch {
      return undefined;
    }
    if (host !== view.target.host) return undefined;
    path = m[3] === '' ? '/' : (m[3] as string);
  }
  const rest = afterPrefix(path, view.prefix);
  if (rest === undefined) return undefined;
  return view.origin + underMount(view.mount, rest);
}

const REFRESH_URL = /(url\s*=\s*)(['"]?)([^'"]*)\2/i;

/** A `Refresh` value (`5; url=/x`) with its URL rewritten, or `undefined` when it has none into the target. */
export function rewriteRefresh(value: string, view: ClientView): string | undefined {
  const m = REFRESH_URL.exec(value);
  if (m === null) return undefined;
  const rewritten = rewriteUrl((m[3] as string).trim(), view);
  if (rewritten === undefined) return undefined;
  const at = m.index + (m[1] as string).length + (m[2] as string).length;
  return value.slice(0, at) + rewritten + value.slice(at + (m[3] as string).length);
}
