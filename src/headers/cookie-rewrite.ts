/**
 * `rewriteCookies`: the `Domain` and `Path` of upstream `Set-Cookie` headers, so cookies set
 * by a target behind a mount path reach the client's host and path. `true` derives both from
 * the target and the mount; the object form gives explicit maps with http-proxy-middleware's
 * `cookieDomainRewrite` / `cookiePathRewrite` semantics (`'*'` matches any value, `''` removes).
 */
import { configError, describeValue, isPlainObject, rejectUnknownKeys } from '../config/validate.js';
import { afterPrefix, type ClientView } from './location-rewrite.js';

/** A compiled `rewriteCookies`: `'auto'` for `true`, else the explicit maps. */
export type CookieRewrite =
  | 'auto'
  | { readonly domain: ReadonlyMap<string, string> | undefined; readonly path: ReadonlyMap<string, string> | undefined };

const EXAMPLE = "rewriteCookies: { domain: { 'api.internal': '' }, path: { '/v1': '/api' } }";

function compileMap(option: string, value: unknown, lowerKeys: boolean): ReadonlyMap<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) throw configError(option, `must be an object of strings, got ${describeValue(value)}`, EXAMPLE);
  const map = new Map<string, string>();
  for (const [from, to] of Object.entries(value)) {
    if (typeof to !== 'string') throw configError(`${option}['${from}']`, `must be a string ('' removes the attribute), got ${describeValue(to)}`, EXAMPLE);
    map.set(lowerKeys ? from.toLowerCase() : from, to);
  }
  return map;
}

/** Validates `rewriteCookies`; `undefined` when off. */
export function compileCookieRewrite(value: unknown): CookieRewrite | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return 'auto';
  if (!isPlainObject(value)) {
    throw configError('rewriteCookies', `must be true, false or { domain, path }, got ${describeValue(value)}`, EXAMPLE);
  }
  rejectUnknownKeys('rewriteCookies', value, ['domain', 'path']);
  const domain = compileMap('rewriteCookies.domain', value['domain'], true);
  const path = compileMap('rewriteCookies.path', value['path'], false);
  if (domain === undefined && path === undefined) return undefined;
  return Object.freeze({ domain, path });
}

function fromMap(map: ReadonlyMap<string, string>, value: string): string | undefined {
  return map.get(value) ?? map.get('*');
}

/** The new attribute value; `''` removes the attribute, `undefined` leaves it. */
function newDomain(rw: CookieRewrite, value: string, view: ClientView): string | undefined {
  const domain = value.toLowerCase();
  if (rw !== 'auto') return rw.domain === undefined ? undefined : fromMap(rw.domain, domain);
  const bare = domain.charCodeAt(0) === 46 ? domain.slice(1) : domain;
  return bare === view.target.hostname.toLowerCase() ? '' : undefined;
}

function newPath(rw: CookieRewrite, value: string, view: ClientView): string | undefined {
  if (rw !== 'auto') return rw.path === undefined ? undefined : fromMap(rw.path, value);
  const rest = afterPrefix(value, view.prefix);
  if (rest === undefined) return undefined;
  // '/v1' and '/v1/' both become the mount itself: a cookie Path '/api/' would not match '/api'.
  return rest === '' || rest === '/' ? view.mount || '/' : view.mount + rest;
}

/** `setCookie` with its `Domain` and `Path` rewritten (the same string when nothing applies). */
export function rewriteSetCookie(setCookie: string, rw: CookieRewrite, view: ClientView): string {
  const parts = setCookie.split(';');
  let changed = false;
  const out: string[] = [parts[0] as string];
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i] as string;
    const eq = part.indexOf('=');
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase();
    const isDomain = name === 'domain';
    if (eq === -1 || (!isDomain && name !== 'path')) {
      out.push(part);
      continue;
    }
    const value = part.slice(eq + 1).trim();
    const next = isDomain ? newDomain(rw, value, view) : newPath(rw, value, view);
    if (next === undefined || next === value) {
      out.push(part);
      continue;
    }
    changed = true;
    if (next !== '') out.push(`${part.slice(0, eq + 1)}${next}`);
  }
  return changed ? out.join(';') : setCookie;
}
