/**
 * The per-request pipeline, as a short list of calls:
 * enter (skip, path safety, rewrite, template) → prepare headers and body once →
 * attempt loop → respond (modifyResponse, head, streamed body) or fail (errorHandler once).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { stickyCookie } from './balancer/policies/cookie.js';
import { countersOf, recordStatus } from './balancer/target.js';
import { resolveBodySource } from './body/request-body.js';
import type { ResolvedConfig } from './config/normalize-config.js';
import { defaultErrorHandler } from './errors/default-error-handler.js';
import { ProxyError } from './errors/proxy-error.js';
import { runModifyResponse, type ReplacementBody } from './response/modify-response.js';
import { streamBody, writeHead } from './response/write-response.js';
import { runAttempts, type Exchange } from './retry/request-attempts.js';
import { routeRequest, SKIP, type RouteResult } from './routing/route-request.js';
import type { Forwarder } from './transport/forwarder.js';
import type { NextFunction, ProxyTarget } from './types.js';

/** The middleware function itself (without the extras `proxy()` attaches). */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse, next?: NextFunction) => void;

/** Everything decided once per request, before the first attempt. */
function enter(cfg: ResolvedConfig, req: IncomingMessage, res: ServerResponse, r: RouteResult): Exchange | ProxyError | typeof SKIP {
  if (r === SKIP || r instanceof ProxyError) return r;
  const { ctx, upstreamPath, headers, hostFixed } = r;
  return { req, res, ctx, upstreamPath, headers, hostFixed, body: resolveBodySource(req, headers, cfg.replayLimit) };
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
  if (err.target !== undefined) recordStatus(err.target, err.status);
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
    recordStatus(target, clientAborted ? 499 : status);
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
  // Set here, once the target whose response is sent is known: a retried attempt leaves no
  // cookie behind, and an error reply (from no target) pins the client to none.
  const sticky = stickyCookie(cfg.balancer, x.req, target);
  if (sticky !== undefined) x.res.appendHeader('set-cookie', sticky);
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
      const r = routeRequest(cfg, req);
      // An async skip (issue 12): the rest waits for its answer; a rejection goes to next(err).
      if (r instanceof Promise) {
        r.then((routed) => proceed(cfg, forwarder, req, res, enter(cfg, req, res, routed), done)).catch(done);
        return;
      }
      x = enter(cfg, req, res, r);
    } catch (err) {
      // A user function (skip, a header function) threw: Express's error handling takes it.
      return done(err);
    }
    proceed(cfg, forwarder, req, res, x, done);
  };
}

/** After routing: `next()` when skipped, the error handler for a refused request, else the attempts. */
function proceed(
  cfg: ResolvedConfig,
  forwarder: Forwarder,
  req: IncomingMessage,
  res: ServerResponse,
  x: Exchange | ProxyError | typeof SKIP,
  done: NextFunction,
): void {
  if (x === SKIP) return done();
  if (x instanceof ProxyError) return fail(cfg, { req, res }, x, done);
  proxyRequest(cfg, forwarder, x, done).catch(done);
}
