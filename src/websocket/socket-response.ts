/**
 * Answers written on an upgrade socket. Once Node emits `upgrade`, no HTTP server stands behind
 * the socket any more: an HTTP answer (an error, or the upstream's refusal) is written through
 * a `ServerResponse` bound to the raw socket, so framing, chunking and backpressure are Node's
 * own; the `101 Switching Protocols` head is written by hand, since a tunnel follows it.
 */
import { ServerResponse, STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { applyResponseHeaderRules, type CompiledHeaderRules } from '../headers/header-rules.js';
import { filterResponseHeaders } from '../headers/upstream-headers.js';
import type { RequestContext } from '../request-context.js';

function closeSocket(socket: Duplex): void {
  const s = socket as Partial<Socket>;
  // As Node's HTTP server does after a `Connection: close` answer: flush, then close.
  if (typeof s.destroySoon === 'function') s.destroySoon();
  else socket.end();
}

/**
 * A `ServerResponse` for `req` that writes to `socket` and closes it once the answer has been
 * sent (`Connection: close`): after a failed or refused upgrade the connection is not reused.
 */
export function socketResponse(req: IncomingMessage, socket: Duplex): ServerResponse {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket as Socket);
  res.once('finish', () => {
    res.detachSocket(socket as Socket);
    closeSocket(socket);
  });
  return res;
}

/** Answers `status` with its status text as a short plain-text body, then closes the socket. */
export function answerStatus(req: IncomingMessage, socket: Duplex, status: number): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = STATUS_CODES[status] ?? 'Error';
  const res = socketResponse(req, socket);
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  res.end(body);
}

/** What the proxy adds to the upstream's `101` head. */
export interface HeadExtras {
  readonly rules: CompiledHeaderRules | undefined;
  readonly ctx: RequestContext;
  /** A sticky-session `Set-Cookie` value, when the cookie balancer chose a new target. */
  readonly setCookie: string | undefined;
}

/** The upstream's headers with the user's rules applied, through a detached response used as a header bag. */
function withRules(list: string[], extras: HeadExtras): string[] {
  const bag = new ServerResponse(extras.ctx.req);
  for (let i = 0; i < list.length; i += 2) bag.appendHeader(list[i] as string, list[i + 1] as string);
  if (extras.rules !== undefined) applyResponseHeaderRules(extras.rules, bag, extras.ctx);
  const out: string[] = [];
  // Node has had getRawHeaderNames() since v15; @types/node 20 does not declare it.
  for (const name of (bag as ServerResponse & { getRawHeaderNames(): string[] }).getRawHeaderNames()) {
    const value = bag.getHeader(name);
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else if (value !== undefined) out.push(name, String(value));
  }
  return out;
}

/** The first value of header `lower` in a raw list. */
function headerValue(raw: readonly string[], lower: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if ((raw[i] as string).toLowerCase() === lower) return raw[i + 1];
  return undefined;
}

/**
 * The `HTTP/1.1 101` head for the client: the upstream's headers in its letter case, minus
 * hop-by-hop ones, plus `Connection: Upgrade` and the upstream's `Upgrade` (the two hop-by-hop
 * headers a WebSocket handshake needs on each hop), then a sticky cookie and the user's
 * `responseHeaders` rules. A throwing rule function propagates.
 */
export function switchingProtocolsHead(rawHeaders: readonly string[], extras: HeadExtras): string {
  let list = filterResponseHeaders(rawHeaders as string[]);
  list.push('Connection', 'Upgrade', 'Upgrade', headerValue(rawHeaders, 'upgrade') ?? 'websocket');
  if (extras.setCookie !== undefined) list.push('Set-Cookie', extras.setCookie);
  if (extras.rules !== undefined) list = withRules(list, extras);
  let head = 'HTTP/1.1 101 Switching Protocols\r\n';
  for (let i = 0; i < list.length; i += 2) head += `${list[i] as string}: ${list[i + 1] as string}\r\n`;
  return `${head}\r\n`;
}
