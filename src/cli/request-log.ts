/**
 * One log line per request: time, method, path, status, upstream, duration, and on failure
 * the error code, the attempts made and the cause. The query string is left out (it often
 * carries tokens), and control characters are escaped so a request cannot forge log lines.
 * A failed request's line goes to stderr, every other one to stdout.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProxyError } from '../errors/proxy-error.js';
import type { ProxyTarget } from '../types.js';
import { describeCause, escapeField, escapeTail } from './log-format.js';
import type { Log } from './log.js';

/** The fields of one request's log line. */
export interface RequestLogEntry {
  readonly time: Date;
  readonly method: string;
  /** The request path without its query. */
  readonly path: string;
  /** The status sent, or 499 when the client went away before the response was complete. */
  readonly status: number;
  /** The chosen target's name, or `-` when none was chosen. */
  readonly upstream: string;
  readonly durationMs: number;
  /** Upstream attempts made (0 when none was). */
  readonly attempts: number;
  /** Why the request failed: a ProxyError code, or `UPSTREAM_BROKEN` (see docs/cli.md). */
  readonly error?: string;
  /** What the error says about its cause, e.g. `ECONNREFUSED 127.0.0.1:3001`. */
  readonly cause?: string;
}

/**
 * `2025-01-31T12:00:00.000Z GET /api/users 200 127.0.0.1:3001 3.1ms`, then on failure
 * ` UPSTREAM_UNAVAILABLE attempts=3 cause=ECONNREFUSED 127.0.0.1:3001` (the cause last: it may
 * hold spaces), or after a retry that succeeded ` attempts=2`.
 */
export function formatRequestLine(entry: RequestLogEntry, prefix = ''): string {
  const path = escapeField(entry.path);
  const method = escapeField(entry.method);
  let line = `${entry.time.toISOString()} ${prefix}${method} ${path} ${entry.status} ${escapeField(entry.upstream)} ${entry.durationMs.toFixed(1)}ms`;
  if (entry.error !== undefined) line += ` ${entry.error}`;
  if (entry.error !== undefined || entry.attempts > 1) line += ` attempts=${entry.attempts}`;
  if (entry.cause !== undefined) line += ` cause=${escapeTail(entry.cause)}`;
  return line;
}

/** The JSON fields of a request line (`msg` is `request`). */
export function requestFields(entry: RequestLogEntry, worker: number | undefined): Record<string, unknown> {
  return {
    ...(worker !== undefined && { worker }),
    method: entry.method,
    path: entry.path,
    status: entry.status,
    upstream: entry.upstream,
    durationMs: Math.round(entry.durationMs * 10) / 10,
    attempts: entry.attempts,
    ...(entry.error !== undefined && { error: entry.error }),
    ...(entry.cause !== undefined && { cause: entry.cause }),
  };
}

/** What is known about one request in flight: filled in by the proxy's channels and error handler. */
export interface RequestTrace {
  readonly method: string;
  readonly path: string;
  attempts: number;
  /** The final error (from the error handler). */
  error: ProxyError | undefined;
  /** The last failed attempt's error and target (for retry lines). */
  lastFailure: ProxyError | undefined;
  lastFailedTarget: ProxyTarget | undefined;
  /** The upstream broke off its response after the head was sent on. */
  broken: boolean;
}

/** Requests being logged, by request: the channels carry the request, nothing else of ours. */
export const traces = new WeakMap<IncomingMessage, RequestTrace>();

function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** `cause=` of a failure: the underlying error, else the error's own message (a status answered). */
export function causeOf(err: ProxyError): string {
  return describeCause(err) ?? err.message;
}

/**
 * Returns a function to call at the start of each request: it writes the request's line once
 * the response is finished or the connection closed. `contextKey` is the proxy's
 * `res.locals` key for the chosen target; `worker` the cluster worker's id, if any.
 */
export function createRequestLogger(
  log: Log,
  opts: { contextKey: string; worker?: number },
): (req: IncomingMessage, res: ServerResponse) => void {
  const prefix = opts.worker === undefined ? '' : `w${opts.worker} `;
  const json = log.format === 'json';
  return (req, res) => {
    const start = performance.now();
    const time = new Date();
    // Captured now: the proxy may change req.url while routing.
    const trace: RequestTrace = {
      method: req.method ?? '-',
      path: pathOf(req.url),
      attempts: 0,
      error: undefined,
      lastFailure: undefined,
      lastFailedTarget: undefined,
      broken: false,
    };
    traces.set(req, trace);
    res.once('close', () => {
      const locals = (res as { locals?: Record<string, unknown> }).locals;
      const target = locals?.[opts.contextKey] as ProxyTarget | undefined;
      const { error } = trace;
      const failed = error !== undefined || trace.broken;
      const entry: RequestLogEntry = {
        time,
        method: trace.method,
        path: trace.path,
        status: res.writableFinished || trace.broken ? res.statusCode : 499,
        upstream: typeof target?.name === 'string' ? target.name : '-',
        durationMs: performance.now() - start,
        attempts: error === undefined ? trace.attempts : error.attempts,
        ...(error !== undefined && { error: error.code, cause: causeOf(error) }),
        ...(error === undefined && trace.broken && { error: 'UPSTREAM_BROKEN', cause: 'the upstream broke off its response' }),
      };
      const write = failed ? log.error : log.info;
      if (json) write('request', requestFields(entry, opts.worker));
      else write(formatRequestLine(entry, prefix));
    });
  };
}
