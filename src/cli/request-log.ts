/**
 * One log line per request: time, method, path, status, upstream, duration. The query string
 * is left out (it often carries tokens), and control characters are escaped so a request
 * cannot forge log lines.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProxyTarget } from '../types.js';

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
}

const UNSAFE = /[\u0000-\u0020\u007f-\u009f]/g;

function escapeField(text: string): string {
  return text.replace(UNSAFE, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** `2025-01-31T12:00:00.000Z GET /api/users 200 127.0.0.1:3001 3.1ms` */
export function formatRequestLine(entry: RequestLogEntry, prefix = ''): string {
  const path = escapeField(entry.path);
  const method = escapeField(entry.method);
  return `${entry.time.toISOString()} ${prefix}${method} ${path} ${entry.status} ${escapeField(entry.upstream)} ${entry.durationMs.toFixed(1)}ms`;
}

function pathOf(url: string | undefined): string {
  if (url === undefined) return '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * Returns a function to call at the start of each request: it writes the request's line once
 * the response is finished or the connection closed. `contextKey` is the proxy's
 * `res.locals` key for the chosen target.
 */
export function createRequestLogger(
  write: (line: string) => void,
  opts: { contextKey: string; prefix?: string },
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const start = performance.now();
    const time = new Date();
    // Captured now: the proxy may change req.url while routing.
    const method = req.method ?? '-';
    const path = pathOf(req.url);
    res.once('close', () => {
      const locals = (res as { locals?: Record<string, unknown> }).locals;
      const target = locals?.[opts.contextKey] as ProxyTarget | undefined;
      write(
        formatRequestLine(
          {
            time,
            method,
            path,
            status: res.writableFinished ? res.statusCode : 499,
            upstream: typeof target?.name === 'string' ? target.name : '-',
            durationMs: performance.now() - start,
          },
          opts.prefix,
        ),
      );
    });
  };
}
