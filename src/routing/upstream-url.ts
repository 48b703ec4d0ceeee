/**
 * Joining a target's path prefix to the request path. Kept as plain string work: a URL
 * parser would re-encode, resolve dot segments and turn `\` into `/` behind our back.
 */

/**
 * Splits a raw request target into path and query. The query keeps its leading `?` (a lone
 * trailing `?` stays `'?'`) so it is forwarded byte for byte; `''` when there is none.
 * A fragment (`#…`) is dropped: it is never part of an HTTP request target (RFC 9110 §7.1),
 * yet Node accepts one and would forward it glued to the query. An empty path (`?a=1` set as
 * `req.url`, or a rewrite to `''`) is `/`, as RFC 3986 §6.2.3 normalises it.
 */
export function splitPathQuery(url: string): { path: string; query: string } {
  const hash = url.indexOf('#');
  const target = hash === -1 ? url : url.slice(0, hash);
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  return { path: path === '' ? '/' : path, query: q === -1 ? '' : target.slice(q) };
}

/**
 * Set-up: turns a target URL's pathname into a prefix that joins by plain concatenation,
 * dropping one trailing `/` (`/api/` → `/api`, `/` → `''`). Per request the upstream path is
 * then simply `prefix + path`, since every request path starts with `/`.
 */
export function normalizePrefix(pathname: string): string {
  return pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
}

/**
 * Joins a pathname that was not normalised (`/`, `/api`, `/api/`) to a path starting with
 * `/`, with no doubled or lost slash: `('/api/', '/users')` → `/api/users`,
 * `('/api', '/')` → `/api/`. Prefer {@link normalizePrefix} once at set-up plus `prefix + path`
 * on the hot path; use this where the prefix is not known in advance.
 */
export function joinPrefix(prefix: string, path: string): string {
  if (prefix.endsWith('/')) return prefix + path.slice(1);
  return prefix + path;
}
