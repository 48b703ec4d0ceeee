/**
 * The "enter" step shared by HTTP requests and WebSocket upgrades: path safety → skip/except →
 * rewrite → template → upstream headers. Everything here is decided once per request, before
 * the first attempt, so both pipelines route and label a request the same way.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { ResolvedConfig } from '../config/normalize-config.js';
import { ProxyError } from '../errors/proxy-error.js';
import { clientAddress } from '../headers/forwarded.js';
import { escapeHeaderValue } from '../headers/header-rules.js';
import { buildUpstreamHeaders, hasInvalidHeaderName } from '../headers/upstream-headers.js';
import { NO_BODY } from '../body/request-body.js';
import type { ProxiedRequest } from '../proxied-request.js';
import { hasControlChars, resolveSafePath, resolveTemplatePath } from './safe-path.js';
import { splitPathQuery } from './upstream-url.js';

/** Returned by {@link routeRequest} when `skip` or `except` says the request is not proxied. */
export const SKIP: unique symbol = Symbol('switchyard.skip');

/** The parts of the resolved config routing reads. */
export type RouteConfig = Pick<ResolvedConfig, 'skip' | 'rewrite' | 'template' | 'headerPlan' | 'preserveHost'>;

const EMPTY_HEADERS: OutgoingHttpHeaders = Object.freeze({});

function badRequest(): ProxyError {
  return new ProxyError('BAD_REQUEST', 'request path is not allowed');
}

function createContext(req: IncomingMessage, path: string, query: string): ProxiedRequest {
  // Every field present from the start, in one order: one hidden class for all requests.
  return {
    req,
    method: req.method ?? 'GET',
    path,
    query,
    addr: clientAddress(req),
    scheme: (req.socket as TLSSocket | undefined)?.encrypted === true ? 'https' : 'http',
    // Used as X-Forwarded-Host and, with preserveHost, as Host: never with CR/LF/NUL in it.
    // An HTTP/2 client names the host in `:authority` (RFC 9113 §8.3.1), not in `Host`.
    host: escapeHeaderValue(req.headers.host ?? (req.headers[':authority'] as string | undefined) ?? ''),
    params: (req as { params?: Record<string, string> }).params,
    upstreamPath: '',
    headers: EMPTY_HEADERS,
    hostFixed: false,
    body: NO_BODY,
  };
}

/** Rewrite and template may put request data into the path: check its safety again. */
function finalUpstreamPath(cfg: RouteConfig, ctx: ProxiedRequest): string | undefined {
  if (cfg.rewrite !== undefined) {
    const rewritten = splitPathQuery(cfg.rewrite(ctx.path));
    const safe = resolveSafePath(rewritten.path);
    if (safe === undefined) return undefined;
    ctx.path = safe;
    // A rule may add its own query; the request's query is kept after it.
    if (rewritten.query !== '') ctx.query = ctx.query === '' ? rewritten.query : `${rewritten.query}&${ctx.query.slice(1)}`;
  }
  if (cfg.template === undefined) return ctx.path + ctx.query;
  const rendered = splitPathQuery(cfg.template.render(ctx));
  // `{path}` is already resolved, so a dot segment here comes from a value such as
  // `{header.x}` = `..`: refuse it rather than let request data move the template's segments.
  return resolveTemplatePath(rendered.path) === rendered.path ? rendered.path + rendered.query : undefined;
}

/** What {@link routeRequest} decides. */
export type RouteResult = ProxiedRequest | ProxyError | typeof SKIP;

/**
 * Routes `req` (its `req.url` as the caller sees it: mount-relative under Express): a
 * `BAD_REQUEST` error for an unsafe path, {@link SKIP} for a skipped one, else the routed
 * request. A Promise of that only when `skip` returned a promise: a synchronous `skip` (or
 * none) keeps the whole step synchronous. A throwing user function (`skip`, a header
 * function) propagates to the caller, a rejecting `skip` rejects.
 */
export function routeRequest(cfg: RouteConfig, req: IncomingMessage): RouteResult | Promise<RouteResult> {
  const { path, query } = splitPathQuery(req.url ?? '/');
  const safePath = resolveSafePath(path);
  if (safePath === undefined || hasControlChars(query)) return badRequest();
  if (hasInvalidHeaderName(req)) return new ProxyError('BAD_REQUEST', 'request header name is not a token');
  if (cfg.skip !== undefined) {
    const skipped = cfg.skip(req, safePath);
    if (skipped === true) return SKIP;
    if (skipped !== false) return skipped.then((s) => (s ? SKIP : routeUnskipped(cfg, req, safePath, query)));
  }
  return routeUnskipped(cfg, req, safePath, query);
}

/** The rest of {@link routeRequest} once `skip` said no. */
function routeUnskipped(cfg: RouteConfig, req: IncomingMessage, safePath: string, query: string): ProxiedRequest | ProxyError {
  const ctx = createContext(req, safePath, query);
  const upstreamPath = finalUpstreamPath(cfg, ctx);
  if (upstreamPath === undefined) return badRequest();
  ctx.upstreamPath = upstreamPath;
  const headers = buildUpstreamHeaders(req, cfg.headerPlan, ctx);
  if (headers.host === undefined && cfg.preserveHost && ctx.host !== '') headers.host = ctx.host;
  ctx.headers = headers;
  ctx.hostFixed = headers.host !== undefined;
  return ctx;
}
