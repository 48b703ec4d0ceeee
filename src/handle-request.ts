/**
 * The per-request pipeline, as a short list of calls:
 * enter (skip, path safety, rewrite, template, headers, body) → attempt loop (the answer is
 * streamed into `res` from the transport) → or, with `modifyResponse`, the hook then the
 * answer → or the error handler, exactly once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { resolveRequestBody } from './body/request-body.js';
import type { ResolvedConfig } from './config/normalize-config.js';
import { defaultErrorHandler } from './errors/default-error-handler.js';
import { ProxyError } from './errors/proxy-error.js';
import { startHttpAttempts, type HttpAnswer, type HttpDeps } from './http-attempt.js';
import { debug, requestEnd, requestStart } from './observability/channels.js';
import { recordError } from './observability/metric-counters.js';
import type { ProxiedRequest } from './proxied-request.js';
import { runModifyResponse } from './response/modify-response.js';
import { headersAfterHook, streamBody, writeUpstreamHead } from './response/write-response.js';
import type { LoopOutcome } from './retry/attempt-loop.js';
import { runOnRequest } from './routing/on-request.js';
import { routeRequest, SKIP, type RouteResult } from './routing/route-request.js';
import type { NextFunction } from './types.js';

/** The middleware function itself (without the extras `proxy()` attaches). */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse, next?: NextFunction) => void;

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
function failRequest(d: HttpDeps, req: IncomingMessage, res: ServerResponse, err: ProxyError, next: NextFunction): void {
  const cfg = d.cfg;
  recordError(d.metrics, err);
  // The rest of a stalled upload will not come: close the connection after the answer.
  if (err.code === 'CLIENT_TIMEOUT') res.shouldKeepAlive = false;
  if (cfg.errorHandler === undefined) return defaultErrorHandler(err, req, res);
  try {
    const done = cfg.errorHandler(err, req, res, next);
    if (done instanceof Promise) done.catch(next);
  } catch (thrown) {
    next(thrown);
  }
}

/** `modifyResponse` runs, then its result (or the upstream body) is sent. */
async function respondThroughHook(
  d: HttpDeps,
  p: ProxiedRequest,
  res: ServerResponse,
  answer: Extract<HttpAnswer, { via: 'hook' }>,
  next: NextFunction,
): Promise<void> {
  const cfg = d.cfg;
  const { proxyRes, lease } = answer;
  const target = lease.target;
  let body;
  try {
    body = await runModifyResponse(cfg.modifyResponse!, proxyRes, p.req, res, { target, attempts: answer.attempts });
  } catch (err) {
    proxyRes.destroy();
    const error = err as ProxyError;
    lease.end('failed', error.status, error);
    return failRequest(d, p.req, res, error, next);
  }
  try {
    writeUpstreamHead(cfg, p, res, target, { status: proxyRes.statusCode, statusText: proxyRes.statusMessage, headers: headersAfterHook(proxyRes) });
  } catch (err) {
    proxyRes.destroy();
    lease.end('failed', 0);
    return next(err);
  }
  const status = res.statusCode;
  const done = (ok: boolean, clientAborted: boolean): void => {
    if (clientAborted) lease.end('aborted');
    else lease.end(ok ? 'answered' : 'broken', status);
  };
  if (body === undefined) return streamBody(proxyRes, res, done);
  // The upstream body is replaced: drain it so its pooled connection can be reused.
  proxyRes.resume();
  if (Buffer.isBuffer(body)) {
    res.end(body);
    done(true, false);
  } else {
    streamBody(body, res, done);
  }
}

/** Whether `close()` was called: requests then fail fast instead of waiting out a timeout. */
export interface HandlerState {
  closed: boolean;
}

/** Where the attempts' outcome leads: nothing more (streaming), the hook, or the error handler. */
function afterAttempts(d: HttpDeps, p: ProxiedRequest, res: ServerResponse, outcome: LoopOutcome<HttpAnswer>, next: NextFunction): void {
  if (outcome.kind === 'aborted') return;
  if (outcome.kind === 'error') return failRequest(d, p.req, res, outcome.error, next);
  const answer = outcome.value;
  if (answer.via === 'streaming') return;
  if (answer.via === 'threw') return next(answer.error);
  respondThroughHook(d, p, res, answer, next).catch(next);
}

function proxyRequest(d: HttpDeps, p: ProxiedRequest, res: ServerResponse, next: NextFunction): void {
  startHttpAttempts(d, p, res, (outcome) => afterAttempts(d, p, res, outcome, next), next);
}

/** Decides the body of a routed request; `SKIP` and `BAD_REQUEST` errors pass through. */
function enter(cfg: ResolvedConfig, req: IncomingMessage, r: RouteResult): RouteResult {
  if (r === SKIP || r instanceof ProxyError) return r;
  r.body = resolveRequestBody(req, r.headers, cfg.replayLimit);
  return r;
}

/** What follows routing: next() for a skipped request, the error handler, or `onRequest` and the attempts. */
function proceed(d: HttpDeps, req: IncomingMessage, res: ServerResponse, p: RouteResult, done: NextFunction): void {
  if (p === SKIP) return done();
  if (p instanceof ProxyError) return failRequest(d, req, res, p, done);
  if (requestStart.hasSubscribers || requestEnd.hasSubscribers || debug.enabled) announce(p, res);
  if (d.cfg.onRequest === undefined) return proxyRequest(d, p, res, done);
  let hooked: void | Promise<void>;
  try {
    hooked = runOnRequest(d.cfg.onRequest, p, res);
  } catch (err) {
    return done(err);
  }
  if (hooked === undefined) return proxyRequest(d, p, res, done);
  // A client that left while the hook awaited something gets nothing sent upstream.
  hooked.then(() => (res.destroyed ? undefined : proxyRequest(d, p, res, done)), done);
}

/** Publishes `switchyard:request:start`, and `switchyard:request:end` when the client connection closes. */
function announce(p: ProxiedRequest, res: ServerResponse): void {
  const started = Date.now();
  if (requestStart.hasSubscribers) requestStart.publish({ req: p.req, kind: 'http', method: p.method, path: p.upstreamPath });
  if (debug.enabled) debug('request %s %s', p.method, p.upstreamPath);
  if (!requestEnd.hasSubscribers) return;
  res.once('close', () => {
    requestEnd.publish({ req: p.req, status: res.statusCode, complete: res.writableFinished, duration: Date.now() - started });
  });
}

/** Builds the request handler from the resolved config and the transport. */
export function createRequestHandler(d: HttpDeps, state: HandlerState): RequestHandler {
  const cfg = d.cfg;
  return function switchyard(req, res, next) {
    const done = next ?? fallbackNext(req, res);
    if (state.closed) return failRequest(d, req, res, new ProxyError('NO_UPSTREAM', 'the proxy was closed'), done);
    let p: RouteResult;
    try {
      const r = routeRequest(cfg, req);
      // An async skip: the rest waits for its answer; a rejection goes to next(err).
      if (r instanceof Promise) {
        r.then((routed) => proceed(d, req, res, enter(cfg, req, routed), done)).catch(done);
        return;
      }
      p = enter(cfg, req, r);
    } catch (err) {
      // A user function (skip, a header function) threw: Express's error handling takes it.
      return done(err);
    }
    proceed(d, req, res, p, done);
  };
}
