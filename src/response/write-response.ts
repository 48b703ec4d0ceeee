/**
 * Writes the upstream response head to the client: status, filtered headers in the upstream's
 * letter case, a sticky-session cookie, the user's response header rules. Bodies are written by
 * the HTTP attempt straight from the transport; {@link streamBody} serves the hook path, where
 * the body is a stream (the upstream's, or one `modifyResponse` returned).
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { stickyCookie } from '../balancer/policies/cookie.js';
import type { ResolvedConfig } from '../config/normalize-config.js';
import { applyResponseHeaderRules } from '../headers/header-rules.js';
import { rewriteResponseHeaders } from '../headers/response-rewrite.js';
import { filterResponseHeaders } from '../headers/upstream-headers.js';
import type { ProxiedRequest } from '../proxied-request.js';
import type { ProxyTarget, UpstreamResponse } from '../types.js';

/** Called once: the body was fully sent (`ok`), or the transfer broke, by the client going away or not. */
export type OnBodyDone = (ok: boolean, clientAborted: boolean) => void;

/** undici's raw header list (Buffers) as strings, letter case kept. */
export function rawHeaderStrings(raw: readonly Buffer[]): string[] {
  const out = new Array<string>(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = (raw[i] as Buffer).toString('latin1');
  return out;
}

/**
 * Puts the upstream headers on `res`. Headers an earlier middleware set are replaced by the
 * upstream's value of the same name, except Set-Cookie, which is added to (a sticky-session
 * cookie and the upstream's cookies must all reach the client). One `res` call per header:
 * under Express each call on `res` is comparatively slow, so names are compared locally.
 */
function copyHeaders(list: readonly string[], res: ServerResponse): void {
  const preset = res.getHeaderNames();
  const seen: string[] = [];
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i] as string;
    const value = list[i + 1] as string;
    const lower = name.toLowerCase();
    if (seen.includes(lower) || (lower === 'set-cookie' && preset.includes(lower))) {
      res.appendHeader(name, value);
      continue;
    }
    seen.push(lower);
    res.setHeader(name, value);
  }
}

/** Headers from a hook-modified `proxyRes.headers`, keeping the upstream's letter case where it had one. */
export function headersAfterHook(proxyRes: UpstreamResponse): string[] {
  const spelled = new Map<string, string>();
  const raw = proxyRes.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) spelled.set((raw[i] as string).toLowerCase(), raw[i] as string);
  const flat: string[] = [];
  for (const [lower, value] of Object.entries(proxyRes.headers)) {
    if (value === undefined) continue;
    const name = spelled.get(lower) ?? lower;
    if (Array.isArray(value)) for (const v of value) flat.push(name, v);
    else flat.push(name, String(value));
  }
  return filterResponseHeaders(flat);
}

/** What the head of one response is made of. */
export interface ResponseHead {
  readonly status: number;
  readonly statusText: string;
  /** Filtered upstream headers, flat, in the upstream's letter case. */
  readonly headers: readonly string[];
}

/**
 * Writes status and headers on `res` (nothing is flushed: the first body write or `end` sends
 * them). A throwing `responseHeaders` function propagates, with `res` left without headers so
 * the error answer is not framed by the upstream's.
 */
export function writeUpstreamHead(cfg: ResolvedConfig, p: ProxiedRequest, res: ServerResponse, target: ProxyTarget, head: ResponseHead): void {
  // The upstream answered before the client finished sending (an early 413, say): close the
  // connection after this response instead of leaving the unread upload hanging on it.
  if (!p.req.complete) res.shouldKeepAlive = false;
  // Set here, once the target whose response is sent is known: a retried attempt leaves no
  // cookie behind, and an error reply (from no target) pins the client to none.
  const sticky = stickyCookie(cfg.balancer, p.req, target);
  if (sticky !== undefined) res.appendHeader('set-cookie', sticky);
  try {
    const rw = cfg.responseRewrites;
    copyHeaders(rw === undefined ? head.headers : rewriteResponseHeaders(rw, head.headers, p, target, cfg.headerPlan.isTrusted), res);
    if (cfg.responseRules !== undefined) applyResponseHeaderRules(cfg.responseRules, res, p);
  } catch (err) {
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    throw err;
  }
  res.statusCode = head.status;
  // HTTP/2 has no reason phrase (RFC 9113 §8.3.2); Node warns when one is set.
  if (head.statusText !== '' && p.req.httpVersionMajor !== 2) res.statusMessage = head.statusText;
}

/**
 * Streams `body` to the client with backpressure. If either side breaks, both are destroyed:
 * a client never sees a truncated body presented as complete, and an aborted client frees
 * the upstream. Plain `pipe` plus a few listeners: `stream.pipeline` costs an AbortController
 * and a DOMException per response, measurable on the hot path.
 */
export function streamBody(body: Readable, res: ServerResponse, done: OnBodyDone): void {
  let settled = false;
  const finish = (ok: boolean, clientAborted: boolean): void => {
    if (settled) return;
    settled = true;
    done(ok, clientAborted);
  };
  const upstreamBroke = (): void => {
    if (settled) return;
    finish(false, false);
    res.destroy();
  };
  body.once('error', upstreamBroke);
  body.once('close', () => {
    if (!body.readableEnded) upstreamBroke();
  });
  // 'finish' as well as 'close': a response bound to a raw socket (WebSocket refusals) may never emit 'close'.
  res.once('finish', () => finish(true, false));
  res.once('close', () => {
    if (res.writableFinished) return finish(true, false);
    if (settled) return;
    finish(false, true);
    body.destroy();
  });
  body.pipe(res);
}
