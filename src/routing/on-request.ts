/**
 * The `onRequest` hook: the user's last word on the upstream method, path and headers,
 * once per request, after routing and header rules and before the first attempt. What the
 * hook leaves is checked here, since it goes on the wire as it is: a bad value becomes a
 * TypeError for `next(err)`, never a malformed request line or a 502 counted against a target.
 */
import type { ServerResponse } from 'node:http';
import { isThenable } from '../errors/sync-callback.js';
import { TOKEN } from '../headers/token.js';
import type { ProxiedRequest } from '../proxied-request.js';
import type { OnRequest, UpstreamRequest } from '../types.js';

// Whitespace, control characters and `#` would change the request line or be cut off.
const BAD_PATH_CHAR = /[\s\x00-\x1f\x7f#]/;

function apply(p: ProxiedRequest, upstream: UpstreamRequest): void {
  const { method, path, headers } = upstream;
  if (typeof method !== 'string' || !TOKEN.test(method)) {
    throw new TypeError(`switchyard: onRequest set upstream.method to ${JSON.stringify(method)}, which is not an HTTP method token`);
  }
  if (typeof path !== 'string' || !path.startsWith('/') || BAD_PATH_CHAR.test(path)) {
    throw new TypeError(`switchyard: onRequest set upstream.path to ${JSON.stringify(path)}; it must start with / and hold no spaces, control characters or #`);
  }
  if (typeof headers !== 'object' || headers === null) {
    throw new TypeError('switchyard: onRequest set upstream.headers to something that is not a headers object');
  }
  p.method = method;
  p.upstreamPath = path;
  p.headers = headers;
  p.hostFixed = headers.host !== undefined;
}

/** Runs `hook` on `p`; a promise when the hook returned one. Throws (or rejects) what the hook did. */
export function runOnRequest(hook: OnRequest, p: ProxiedRequest, res: ServerResponse): void | Promise<void> {
  const upstream: UpstreamRequest = { method: p.method, path: p.upstreamPath, headers: p.headers };
  const done = hook(upstream, p.req, res);
  if (isThenable(done)) return Promise.resolve(done).then(() => apply(p, upstream));
  apply(p, upstream);
}
