/**
 * Where the host app mounted the middleware, for an upgrade. Node never routes upgrades
 * through Express or Connect, so `mw.upgrade` sees the full path. To strip the mount path as
 * the framework strips it for HTTP, this walks the server's request handler the way the
 * framework routes a request, using the framework's own matchers (so `:params`, regular
 * expressions, arrays of paths, case sensitivity and strict routing behave as for HTTP):
 *
 * - Express 5 (`app.router`) and Express 4 (`app._router`) apps, `express.Router()`s nested
 *   in them, and routes (`app.get('/x/:id', mw)`, which strip nothing, as for HTTP);
 * - Connect apps (`app.stack` of `{ route, handle }`).
 *
 * A middleware the walk cannot see (a bare `http.createServer` handler, a wrapper function,
 * inside an Express sub-app, whose mount hides the sub-app in a closure) is `NOT_FOUND`, and
 * the upgrade keeps its full path, as before mount awareness.
 *
 * The walk runs per upgrade, not per HTTP request: upgrades are rare next to requests, and an
 * app may add routes at run time.
 */

/** The middleware is in the tree, but no mount of it matches this upgrade's path. */
export const OUTSIDE = Symbol('outside the mount');
/** The middleware could not be found in the server's handler tree. */
export const NOT_FOUND = Symbol('not found');

/** The path and query to proxy, or why there is none. */
export type Located = string | typeof OUTSIDE | typeof NOT_FOUND;

/** An Express/router layer, as far as the walk needs it (Express 4 and router 2.x shapes). */
interface RouterLayer {
  readonly handle?: unknown;
  readonly route?: { readonly stack?: unknown };
  readonly path?: unknown;
  match(path: string): unknown;
}

/** A Connect stack entry. */
interface ConnectEntry {
  readonly route: string;
  readonly handle: unknown;
}

/** Nested routers deeper than this are not searched (a guard against cycles). */
const MAX_DEPTH = 16;

function isLayer(entry: unknown): entry is RouterLayer {
  return typeof entry === 'object' && entry !== null && typeof (entry as { match?: unknown }).match === 'function';
}

function isConnectEntry(entry: unknown): entry is ConnectEntry {
  return typeof entry === 'object' && entry !== null && typeof (entry as { route?: unknown }).route === 'string';
}

function readStack(value: unknown): readonly unknown[] | undefined {
  if ((typeof value !== 'function' && typeof value !== 'object') || value === null) return undefined;
  const stack = (value as { stack?: unknown }).stack;
  return Array.isArray(stack) ? stack : undefined;
}

/**
 * The middleware stack of a request handler: a Router's or Connect app's `stack`, an
 * Express 4 app's `_router.stack`, an Express 5 app's `router.stack`. Express 4's
 * `app.router` is a getter that throws, hence `_router` first and the guard.
 */
function stackOf(handler: unknown): readonly unknown[] | undefined {
  const own = readStack(handler);
  if (own !== undefined) return own;
  if (typeof handler !== 'function') return undefined;
  const v4 = readStack((handler as { _router?: unknown })._router);
  if (v4 !== undefined) return v4;
  try {
    return readStack((handler as { router?: unknown }).router);
  } catch {
    return undefined;
  }
}

/** A route's layers that run `mw` for a GET (an upgrade is a GET). */
function routeRuns(route: { readonly stack?: unknown }, mw: unknown): boolean {
  if (!Array.isArray(route.stack)) return false;
  return route.stack.some((entry: unknown) => {
    if (typeof entry !== 'object' || entry === null) return false;
    const { handle, method } = entry as { handle?: unknown; method?: unknown };
    return handle === mw && (method === undefined || (typeof method === 'string' && method.toLowerCase() === 'get'));
  });
}

/** Whether `mw` appears anywhere below `stack`. */
function contains(stack: readonly unknown[], mw: unknown, depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  return stack.some((entry) => {
    if (typeof entry !== 'object' || entry === null) return false;
    const { handle, route } = entry as { handle?: unknown; route?: unknown };
    if (handle === mw) return true;
    if (typeof route === 'object' && route !== null && routeRuns(route, mw)) return true;
    const inner = readStack(handle);
    return inner !== undefined && contains(inner, mw, depth + 1);
  });
}

/** What the framework strips: `removed` characters off the path; the rest starts with `/`. */
function strip(url: string, removed: number): string {
  const rest = url.slice(removed);
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/** The path an Express layer matched: router 2.3+ returns it, older versions set `layer.path`. */
function matchedPath(layer: RouterLayer, pathname: string): string | undefined {
  let m: unknown;
  try {
    m = layer.match(pathname);
  } catch {
    return undefined; // a malformed %-escape in a param: Express would fail the request too
  }
  if (m === false || m === undefined || m === null) return undefined;
  const fromResult = typeof m === 'object' ? (m as { path?: unknown }).path : undefined;
  const path = typeof fromResult === 'string' ? fromResult : layer.path;
  return typeof path === 'string' ? path : undefined;
}

/** Connect's prefix match: case-insensitive, ending at `/`, `.` or the end of the path. */
function connectMatches(route: string, pathname: string): boolean {
  if (pathname.slice(0, route.length).toLowerCase() !== route.toLowerCase()) return false;
  const c = pathname[route.length];
  return c === undefined || c === '/' || c === '.';
}

function walk(stack: readonly unknown[], mw: unknown, url: string, depth: number): string | undefined {
  const q = url.indexOf('?');
  const pathname = q === -1 ? url : url.slice(0, q);
  for (const entry of stack) {
    let found: string | undefined;
    if (isLayer(entry)) found = walkLayer(entry, mw, url, pathname, depth);
    else if (isConnectEntry(entry) && entry.handle === mw && connectMatches(entry.route, pathname)) found = strip(url, entry.route.length);
    if (found !== undefined) return found;
  }
  return undefined;
}

function walkLayer(layer: RouterLayer, mw: unknown, url: string, pathname: string, depth: number): string | undefined {
  const route = layer.route;
  if (typeof route === 'object' && route !== null) {
    // A route matches the whole path and strips nothing.
    return routeRuns(route, mw) && matchedPath(layer, pathname) !== undefined ? url : undefined;
  }
  const inner = layer.handle === mw ? undefined : readStack(layer.handle);
  if (layer.handle !== mw && (inner === undefined || !contains(inner, mw, depth + 1))) return undefined;
  const removed = matchedPath(layer, pathname);
  if (removed === undefined) return undefined;
  // Express checks the same boundary before stripping (a `/chat` mount does not take
  // `/chatroom`): Express 5's router (layers with `matchers`) ends a mount only at `/`,
  // Express 4 also at `.`.
  const c = pathname[removed.length];
  if (c !== undefined && c !== '/' && (c !== '.' || 'matchers' in layer)) return undefined;
  const rest = strip(url, removed.length);
  // A nested router that does not handle the path passes it on, as Express's next() does.
  return inner === undefined ? rest : walk(inner, mw, rest, depth + 1);
}

/**
 * The path and query an upgrade for `url` should be proxied with, given the server's request
 * handler: stripped of the mount path the framework strips for HTTP.
 */
export function locateMount(handler: unknown, mw: unknown, url: string): Located {
  const stack = stackOf(handler);
  if (stack === undefined || !contains(stack, mw, 0)) return NOT_FOUND;
  return walk(stack, mw, url, 0) ?? OUTSIDE;
}
