/**
 * The WebSocket upgrade pipeline (`mw.upgrade`), as a short list of calls:
 * check the handshake → route (the same path safety, skip/except, rewrite, template and
 * header rules as HTTP) → attempt loop → tunnel (101 + spliced sockets), the upstream's
 * refusal relayed as it is, or an HTTP error answer; the socket is closed after any answer.
 *
 * There is no `res` and no `next` for an upgrade: errors get the built-in answer (the user's
 * `errorHandler` is not called), a skipped upgrade gets 404, a throwing user function 500.
 * `req.url` is used as the server received it: Node does not route upgrades, so no mount path
 * was stripped (docs/websockets.md shows how to mount the handler under a prefix).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { stickyCookie } from '../balancer/policies/cookie.js';
import { countersOf, recordStatus } from '../balancer/target.js';
import type { ResolvedConfig } from '../config/normalize-config.js';
import { defaultErrorHandler } from '../errors/default-error-handler.js';
import { ProxyError } from '../errors/proxy-error.js';
import { streamBody, writeHead } from '../response/write-response.js';
import { routeRequest, SKIP, type RoutedRequest, type RouteResult } from '../routing/route-request.js';
import type { UpgradeForwarder } from '../transport/upgrade-forwarder.js';
import type { ProxyTarget } from '../types.js';
import { answerStatus, socketResponse, switchingProtocolsHead } from './socket-response.js';
import type { SocketRegistry } from './socket-registry.js';
import { runUpgradeAttempts, type PendingUpgrade, type UpgradeOutcome } from './upgrade-attempts.js';

/** `mw.upgrade`. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** Whether `close()` was called. */
export interface UpgradeState {
  readonly closed: boolean;
}

/** Node removed the HTTP server's listeners at `upgrade`: without one, a reset would crash the host. */
function ignoreError(): void {}

/**
 * A WebSocket opening handshake (RFC 6455 §4.1): GET with `Upgrade: websocket` exactly.
 * Other upgrade protocols are refused rather than tunnelled: an `h2c` upgrade passed through
 * would let a client talk HTTP/2 straight to the upstream, past every rule of this proxy
 * ("h2c smuggling").
 */
function isWebSocketHandshake(req: IncomingMessage): boolean {
  const upgrade = req.headers.upgrade;
  return req.method === 'GET' && typeof upgrade === 'string' && upgrade.trim().toLowerCase() === 'websocket';
}

function answerError(req: IncomingMessage, socket: Duplex, err: ProxyError): void {
  if (err.target !== undefined) recordStatus(err.target, err.status);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  defaultErrorHandler(err, req, socketResponse(req, socket));
}

/** The upstream switched protocols: answer 101 and splice the two sockets. */
function openTunnel(
  cfg: ResolvedConfig,
  registry: SocketRegistry,
  u: PendingUpgrade,
  out: Extract<UpgradeOutcome, { kind: 'upgraded' }>,
  clientHead: Buffer,
): void {
  const { upstream, target } = out;
  const counters = countersOf(target);
  upstream.on('error', ignoreError);
  if (u.socket.destroyed || !u.socket.writable) {
    upstream.destroy();
    counters.active--;
    recordStatus(target, 499);
    return;
  }
  let head: string;
  try {
    head = switchingProtocolsHead(out.proxyRes, {
      rules: cfg.responseRules,
      ctx: u.routed.ctx,
      setCookie: stickyCookie(cfg.balancer, u.req, target),
    });
  } catch {
    // A responseHeaders function threw: the handshake cannot be completed as configured.
    upstream.destroy();
    counters.active--;
    counters.failures++;
    recordStatus(target, 500);
    answerStatus(u.req, u.socket, 500);
    return;
  }
  recordStatus(target, 101);
  u.socket.write(head);
  // Bytes each side sent right after its handshake belong to the other side, in order.
  if (out.head.length > 0) u.socket.write(out.head);
  if (clientHead.length > 0) upstream.write(clientHead);
  registry.open(u.socket, upstream, () => {
    counters.active--;
  });
}

/** The upstream answered without switching protocols: relay its answer as it is, then close. */
function relayRefusal(cfg: ResolvedConfig, u: PendingUpgrade, out: Extract<UpgradeOutcome, { kind: 'response' }>): void {
  const { proxyRes, target } = out;
  const counters = countersOf(target);
  const res = socketResponse(u.req, u.socket);
  const sticky = stickyCookie(cfg.balancer, u.req, target);
  if (sticky !== undefined) res.appendHeader('set-cookie', sticky);
  try {
    writeHead(proxyRes, res, cfg.responseRules, u.routed.ctx, false);
  } catch {
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    proxyRes.resume();
    counters.active--;
    counters.failures++;
    recordStatus(target, 500);
    res.statusCode = 500;
    res.end();
    return;
  }
  const status = res.statusCode;
  streamBody(proxyRes, res, (ok, clientAborted) => {
    counters.active--;
    if (!ok && !clientAborted) counters.failures++;
    recordStatus(target, clientAborted ? 499 : status);
  });
}

/** What one middleware's upgrades share. */
interface UpgradeDeps {
  readonly cfg: ResolvedConfig;
  readonly forwarder: UpgradeForwarder;
  readonly registry: SocketRegistry;
  readonly state: UpgradeState;
}

async function proxyUpgrade(deps: UpgradeDeps, u: PendingUpgrade, head: Buffer): Promise<void> {
  const out = await runUpgradeAttempts(u, deps.cfg, deps.forwarder);
  if (out.kind === 'response') return relayRefusal(deps.cfg, u, out);
  if (out.kind === 'error') return answerError(u.req, u.socket, out.error);
  if (out.kind === 'aborted') return;
  if (deps.state.closed) {
    // close() ran while the handshake was on its way: a tunnel opened now would outlive it.
    out.upstream.destroy();
    countersOf(out.target).active--;
    return answerError(u.req, u.socket, new ProxyError('NO_UPSTREAM', 'the proxy was closed', { target: out.target, connected: true }));
  }
  openTunnel(deps.cfg, deps.registry, u, out, head);
}

/** The upstream request headers of a handshake: the two hop-by-hop headers it needs are put back. */
function handshakeHeaders(routed: RoutedRequest, req: IncomingMessage): void {
  routed.headers.connection = 'Upgrade';
  routed.headers.upgrade = req.headers.upgrade;
}

/**
 * Builds `mw.upgrade` for `ws: true`. Sec-WebSocket-* headers (key, version, protocol,
 * extensions) pass through untouched, so subprotocols and extensions are negotiated between
 * the client and the upstream; the proxy only relays bytes.
 */
export function createUpgradeHandler(
  cfg: ResolvedConfig,
  forwarder: UpgradeForwarder,
  registry: SocketRegistry,
  state: UpgradeState,
): UpgradeHandler {
  const deps: UpgradeDeps = { cfg, forwarder, registry, state };
  return function upgrade(req, socket, head) {
    socket.on('error', ignoreError);
    if (state.closed) return answerError(req, socket, new ProxyError('NO_UPSTREAM', 'the proxy was closed'));
    if (!isWebSocketHandshake(req)) return answerStatus(req, socket, 400);
    let routed: RouteResult | Promise<RouteResult>;
    try {
      routed = routeRequest(cfg, req);
    } catch {
      // A user function (skip, a header function) threw; there is no next(err) for an upgrade.
      return answerStatus(req, socket, 500);
    }
    // An async skip (issue 12): wait for it; a rejection answers 500 as a throw does.
    if (routed instanceof Promise) {
      routed.then((r) => upgradeRouted(deps, req, socket, head, r)).catch(() => answerStatus(req, socket, 500));
      return;
    }
    upgradeRouted(deps, req, socket, head, routed);
  };
}

/** The upgrade once routed (skip answered): 404 when skipped, the error answer, or the attempts. */
function upgradeRouted(deps: UpgradeDeps, req: IncomingMessage, socket: Duplex, head: Buffer, routed: RouteResult): void {
  if (routed === SKIP) return answerStatus(req, socket, 404);
  if (routed instanceof ProxyError) return answerError(req, socket, routed);
  handshakeHeaders(routed, req);
  proxyUpgrade(deps, { req, socket, routed }, head).catch(() => {
    // balancer.next or retryFilter threw before anything was sent.
    answerStatus(req, socket, 500);
  });
}

/** `mw.upgrade` when `ws` is off: 501, then the socket is closed. */
export function refuseUpgrade(req: IncomingMessage, socket: Duplex): void {
  socket.on('error', ignoreError);
  answerStatus(req, socket, 501);
}
