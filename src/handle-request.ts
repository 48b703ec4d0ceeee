/**
 * The per-request pipeline, as a short list of calls:
 * enter (skip, path safety, rewrite, template) → prepare headers and body once →
 * attempt loop → respond (modifyResponse, head, streamed body) or fail (errorHandler once).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { countersOf } from './balancer/target.js';
import { resolveBodySource } from './body/request-body.js';
import type { ResolvedConfig } from './config/normalize-config.js';
import { defaultErrorHandler } from './errors/default-error-handler.js';
import { ProxyError } from './errors/proxy-error.js';
import { clientAddress } from './headers/forwarded.js';
import { buildUpstreamHeaders } from './headers/upstream-headers.js';
import type { RequestContext } from './request-context.js';
import { runModifyResponse, type ReplacementBody } from './response/modify-response.js';
import { streamBody, writeHead } from './response/write-response.js';
import { runAttempts, type Exchange } from './retry/attempt-loop.js';
import { hasControlChars, resolveSafePath } from './routing/safe-path.js';
import { splitPathQuery } from './routing/upstream-url.js';
import type { Forwarder } from './transport/forwarder.js';
import type { NextFunction, ProxyTarget } from './types.js';

/** The middleware function itself (without the extras `proxy()` attaches). */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse, next?: NextFunction) => void;

const SKIP = Symbol('skip');

function badRequest(): ProxyError {
  return new ProxyError('BAD_REQUEST', 'request path is not allowed');
}

function createContext(req: IncomingMessage, path: string, query: string): RequestContext {
  return {
    req,
    method: req.method ?? 'GET',
    path,
    query,
    addr: clientAddress(req),
    scheme: (req.socket as TLSSocket | undefined)?.encrypted === true ? 'https' : 'http',
    host: req.headers.host ?? '',
    params: (req as { params?: Record<string, string> }).params,
  };
}

/** Rewrite and template may put request data into the path: check its safety again. */
function finalUpstreamPath(cfg: ResolvedConfig, ctx: RequestContext): string | undefined {
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
  return resolveSafePath(rendered.path) === rendered.path ? rendered.path + rendered.query : undefined;
}

/** Everything decided once per request, before the first attempt. */
function enter(cfg: ResolvedConfig, req: IncomingMessage, res: ServerResponse): Exchange | ProxyError | typeof SKIP {
  const { path, query } = splitPathQuery(req.url ?? '/');
  const safePath = resolveSafePath(path);
  if (safePath === undefined || hasControlChars(query)) return badRequest();
  if (cfg.skip !== undefined && cfg.skip(req, safePath)) return SKIP;
  const ctx = createContext(req, safePath, query);
  const upstreamPath = finalUpstreamPath(cfg, ctx);
  if (upstreamPath === undefined) return badRequest();
  const headers = buildUpstreamHeaders(req, cfg.headerPlan, ctx);
  if (headers.host === undefined && cfg.preserveHost && ctx.host !== '') headers.host = ctx.host;
  const hostFixed = headers.host !== undefined;
  return { req, res, ctx, upstreamPath, headers, hostFixed, body: resolveBodySource(req, headers, cfg.replayLimit) };
}

function record(target: ProxyTarget, status: number): void {
  const statuses = countersOf(target).statuses;
  statuses[status] = (statuses[status] ?? 0) + 1;
}

/** `next` for a bare `http.createServer` handler: 404 when skipped, the built-in handler on errors. */
function fallbackNext(req: IncomingMessage, res: ServerResponse): NextFunction {
  return (err?: unknown) => {
    if (err instanceof ProxyError) return defaultErrorHandler(err, req, res);
    if (res.headersSent) return void res.destroy();
    res.statusCode = err === undefined ? 404 : 500;
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.end(err === undefined ? 'Not Found' : 'Internal Server Error');
  };
}

/** Calls the error handler exactly once; its own throw or rejection goes to `next`. */
function fail(cfg: ResolvedConfig, x: { req: IncomingMessage; res: ServerResponse }, err: ProxyError, next: NextFunction): void {
  if (err.target !== undefined) record(err.target, err.status);
  if (cfg.errorHandler === undefined) return defaultErrorHandler(err, x.req, x.res);
  try {
    const done = cfg.errorHandler(err, x.req, x.res, next);
    if (done instanceof Promise) done.catch(next);
  } catch (thrown) {
    next(thrown);
  }
}

function sendBody(x: Exchange, proxyRes: IncomingMessage, body: ReplacementBody, target: ProxyTarget): void {
  const counters = countersOf(target);
  const status = x.res.statusCode;
  const done = (ok: boolean, clientAborted: boolean): void => {
    counters.active--;
    if (!ok && !clientAborted) counters.failures++;
    record(target, clientAborted ? 499 : status);
  };
  if (body === undefined) {
    streamBody(proxyRes, x.res, done);
    return;
  }
  // The upstream body is replaced: drain it so its pooled socket can be reused.
  proxyRes.resume();
  if (Buffer.isBuffer(body)) {
    x.res.end(body);
    x.res.once('close', () => done(x.res.writableFinished, !x.res.writableFinished));
  } else {
    streamBody(body, x.res, done);
  }
}

async function respond(
  cfg: ResolvedConfig,
  x: Exchange,
  out: { proxyRes: IncomingMessage; target: ProxyTarget; attempts: number },
  next: NextFunction,
): Promise<void> {
  const { proxyRes, target } = out;
  let body: ReplacementBody;
  if (cfg.modifyResponse !== undefined) {
    try {
      body = await runModifyResponse(cfg.modifyResponse, proxyRes, x.req, x.res, out);
    } catch (err) {
      proxyRes.resume();
      countersOf(target).active--;
      countersOf(target).failures++;
      return fail(cfg, x, err as ProxyError, next);
    }
  }
  // The upstream answered before the client finished sending (an early 413, say): close the
  // connection after this response instead of leaving the unread upload hanging on it.
  if (!x.req.complete) x.res.shouldKeepAlive = false;
  try {
    writeHead(proxyRes, x.res, cfg.responseRules, x.ctx, cfg.modifyResponse !== undefined);
  } catch (err) {
    // A responseHeaders function threw: the upstream's headers must not frame the error reply.
    for (const name of x.res.getHeaderNames()) x.res.removeHeader(name);
    proxyRes.resume();
    countersOf(target).active--;
    countersOf(target).failures++;
    return next(err);
  }
  sendBody(x, proxyRes, body, target);
}

async function proxyRequest(cfg: ResolvedConfig, forwarder: Forwarder, x: Exchange, next: NextFunction): Promise<void> {
  const outcome = await runAttempts(x, cfg, forwarder);
  if (outcome.kind === 'aborted') return;
  if (outcome.kind === 'error') return fail(cfg, x, outcome.error, next);
  return respond(cfg, x, outcome, next);
}

/** Whether `close()` was called: requests then fail fast instead of waiting out a timeout. */
export interface HandlerState {
  closed: boolean;
}

/** Builds the request handler from the resolved config and the forwarder. */
export function createRequestHandler(cfg: ResolvedConfig, forwarder: Forwarder, state: HandlerState): RequestHandler {
  return function switchyard(req, res, next) {
    const done = next ?? fallbackNext(req, res);
    if (state.closed) return fail(cfg, { req, res }, new ProxyError('NO_UPSTREAM', 'the proxy was closed'), done);
    let x: Exchange | ProxyError | typeof SKIP;
    try {
      x = enter(cfg, req, res);
    } catch (err) {
      // A user function (skip, a header function) threw: Express's error handling takes it.
      return done(err);
    }
    if (x === SKIP) return done();
    if (x instanceof ProxyError) return fail(cfg, { req, res }, x, done);
    proxyRequest(cfg, forwarder, x, done).catch(done);
  };
}
