/**
 * Writes the upstream response to the client: status, filtered headers in the upstream's
 * letter case, the user's response header rules, then the body streamed with backpressure.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { applyResponseHeaderRules, type CompiledHeaderRules } from '../headers/header-rules.js';
import { filterResponseHeaders } from '../headers/upstream-headers.js';
import type { RequestContext } from '../request-context.js';

/** Called once: the body was fully sent (`ok`), or the transfer broke, by the client going away or not. */
export type OnBodyDone = (ok: boolean, clientAborted: boolean) => void;

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
function headersAfterHook(proxyRes: IncomingMessage): string[] {
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

/** Writes status and headers. `fromHook` reads `proxyRes.headers` (a hook may have changed them). */
export function writeHead(
  proxyRes: IncomingMessage,
  res: ServerResponse,
  rules: CompiledHeaderRules | undefined,
  ctx: RequestContext,
  fromHook: boolean,
): void {
  copyHeaders(fromHook ? headersAfterHook(proxyRes) : filterResponseHeaders(proxyRes.rawHeaders), res);
  if (rules !== undefined) applyResponseHeaderRules(rules, res, ctx);
  res.statusCode = proxyRes.statusCode ?? 502;
  if (proxyRes.statusMessage) res.statusMessage = proxyRes.statusMessage;
}

/**
 * True when `body` is an upstream response whose whole body already arrived and waits,
 * unread, in its buffer: the common case for small answers, which the parser finishes in
 * the same read as the head.
 */
function isFullyBuffered(body: Readable): boolean {
  const msg = body as Partial<IncomingMessage>;
  return msg.complete === true && body.readableFlowing === null && !body.readableEnded && hasContentLength(msg.rawHeaders);
}

/** A chunked answer keeps its framing (and stays chunked to the client) on the streaming path. */
function hasContentLength(rawHeaders: readonly string[] | undefined): boolean {
  if (rawHeaders === undefined) return false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.length === 14 && name.toLowerCase() === 'content-length') return true;
  }
  return false;
}

/**
 * Sends a fully buffered upstream body with one `res.end(bytes)`: head and body leave in one
 * write, without pipe's dozen listener changes on both streams, which cost most per request
 * under Express (its prototype swap makes every property access on `res` a slow lookup).
 * Reading the buffer to empty still ends `body`, so its pooled socket is freed as usual.
 */
function endWithBuffered(body: IncomingMessage, res: ServerResponse, done: OnBodyDone): void {
  const bytes = body.readableLength > 0 ? (body.read() as Buffer | string | null) : null;
  if (!body.readableEnded) body.resume();
  let settled = false;
  const finish = (ok: boolean): void => {
    if (settled) return;
    settled = true;
    done(ok, !ok);
  };
  // 'finish' as well as 'close', as in streamBody below.
  res.once('finish', () => finish(true));
  res.once('close', () => finish(res.writableFinished));
  if (bytes === null) res.end();
  else res.end(bytes);
}

/**
 * Streams `body` to the client with backpressure. If either side breaks, both are destroyed:
 * a client never sees a truncated body presented as complete, and an aborted client frees
 * the upstream. Plain `pipe` plus a few listeners: `stream.pipeline` costs an AbortController
 * and a DOMException per response, measurable on the hot path.
 */
export function streamBody(body: Readable, res: ServerResponse, done: OnBodyDone): void {
  if (isFullyBuffered(body)) return endWithBuffered(body as IncomingMessage, res, done);
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
