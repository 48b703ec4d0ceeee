/**
 * The WebSocket upgrade pipeline (`mw.upgrade`), as a short list of calls:
 * check the handshake → route (the same path safety, skip/except, rewrite, template and
 * header rules as HTTP) → attempt loop → tunnel (101 + spliced sockets), the upstream's
 * refusal relayed as it is, or an HTTP error answer; the socket is closed after any answer.
 *
 * There is no `res` and no `next` for an upgrade: errors get the built-in answer (the user's
 * `errorHandler` is not called), a skipped upgrade gets 404, a throwing user function 500.
 * Node does not route upgrades, so the mount path is found and stripped here (upgrade-routing.ts),
 * and an upgrade outside the mount is left to the server's other `upgrade` listeners.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { stickyCookie } from '../balancer/policies/cookie.js';
import { recordStatus } from '../balancer/target.js';
import type { ResolvedConfig } from '../config/normalize-config.js';
import { defaultErrorHandler } from '../errors/default-error-handler.js';
import { ProxyError } from '../errors/proxy-error.js';
import { filterResponseHeaders } from '../headers/upstream-headers.js';
import type { HttpDeps } from '../http-attempt.js';
import { requestEnd, requestStart } from '../observability/channels.js';
import { recordError } from '../observability/metric-counters.js';
import type { ProxiedRequest } from '../proxied-request.js';
import { streamBody, writeUpstreamHead } from '../response/write-response.js';
import { routeRequest, SKIP, type RouteResult } from '../routing/route-request.js';
import { answerStatus, socketResponse, switchingProtocolsHead } from './socket-response.js';
import type { SocketRegistry } from './socket-registry.js';
import { runUpgradeAttempts, type UpgradeAnswer } from './upgrade-attempt.js';
import { markUpgradeListener, routeUpgrade } from './upgrade-routing.js';

/** `mw.upgrade`. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** Runs `go` now or once the proxy can route (DNS discovery's first lookup). */
export type UpgradeGate = (go: () => void) => void;

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

function answerError(d: HttpDeps, req: IncomingMessage, socket: Duplex, err: ProxyError): void {
  recordError(d.metrics, err);
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
  p: ProxiedRequest,
  socket: Duplex,
  out: Extract<UpgradeAnswer, { kind: 'upgraded' }>,
  clientHead: Buffer,
): void {
  const { upstream, lease } = out;
  upstream.on('error', ignoreError);
  if (socket.destroyed || !socket.writable) {
    upstream.destroy();
    lease.end('aborted');
    return;
  }
  let head: string;
  try {
    head = switchingProtocolsHead(out.headers, {
      rules: cfg.responseRules,
      ctx: p,
      setCookie: stickyCookie(cfg.balancer, p.req, lease.target),
    });
  } catch {
    // A responseHeaders function threw: the handshake cannot be completed as configured.
    upstream.destroy();
    lease.end('failed', 500);
    answerStatus(p.req, socket, 500);
    return;
  }
  // 101 is the final status of a handshake; the tunnel's end is not counted again.
  recordStatus(lease.target, 101);
  socket.write(head);
  if (clientHead.length > 0) upstream.write(clientHead);
  registry.open(socket, upstream, () => lease.end('answered'));
}

/** The upstream answered without switching protocols: relay its answer as it is, then close. */
function relayRefusal(cfg: ResolvedConfig, p: ProxiedRequest, socket: Duplex, out: Extract<UpgradeAnswer, { kind: 'refused' }>): void {
  const { proxyRes, lease } = out;
  const res = socketResponse(p.req, socket);
  try {
    writeUpstreamHead(cfg, p, res, lease.target, { status: proxyRes.statusCode, statusText: proxyRes.statusMessage, headers: filterResponseHeaders(proxyRes.rawHeaders) });
  } catch {
    proxyRes.destroy();
    lease.end('failed', 500);
    res.statusCode = 500;
    res.end();
    return;
  }
  const status = res.statusCode;
  streamBody(proxyRes, res, (ok, clientAborted) => {
    if (clientAborted) lease.end('aborted');
    else lease.end(ok ? 'answered' : 'broken', status);
  });
}

/** What one middleware's upgrades share. */
interface UpgradeDeps {
  readonly d: HttpDeps;
  readonly registry: SocketRegistry;
  readonly state: UpgradeState;
}

async function proxyUpgrade(deps: UpgradeDeps, p: ProxiedRequest, socket: Duplex, head: Buffer): Promise<void> {
  const cfg = deps.d.cfg;
  const outcome = await runUpgradeAttempts(deps.d, p, socket);
  if (outcome.kind === 'error') return answerError(deps.d, p.req, socket, outcome.error);
  if (outcome.kind === 'aborted') return;
  const answer = outcome.value;
  if (answer.kind === 'refused') return relayRefusal(cfg, p, socket, answer);
  if (deps.state.closed) {
    // close() ran while the handshake was on its way: a tunnel opened now would outlive it.
    answer.upstream.destroy();
    answer.lease.end('failed', 503);
    return answerError(deps.d, p.req, socket, new ProxyError('NO_UPSTREAM', 'the proxy was closed', { target: answer.lease.target, connected: true }));
  }
  openTunnel(cfg, deps.registry, p, socket, answer, head);
}

/**
 * Builds `mw.upgrade` for `ws: true`. Sec-WebSocket-* headers (key, version, protocol,
 * extensions) pass through untouched, so subprotocols and extensions are negotiated between
 * the client and the upstream; the proxy only relays bytes.
 */
export function createUpgradeHandler(d: HttpDeps, registry: SocketRegistry, state: UpgradeState, mw: unknown, gate?: UpgradeGate): UpgradeHandler {
  const deps: UpgradeDeps = { d, registry, state };
  const upgrade: UpgradeHandler = markUpgradeListener((req, socket, head) => {
    if (!takeUpgrade(req, socket, mw, upgrade)) return;
    if (gate === undefined) proxyTakenUpgrade(deps, req, socket, head);
    else gate(() => proxyTakenUpgrade(deps, req, socket, head));
  });
  return upgrade;
}

/** An upgrade this middleware took: checked, routed, then the attempts. */
function proxyTakenUpgrade(deps: UpgradeDeps, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const { d, state } = deps;
  if (state.closed) return answerError(d, req, socket, new ProxyError('NO_UPSTREAM', 'the proxy was closed'));
  if (!isWebSocketHandshake(req)) return answerStatus(req, socket, 400);
  let routed: RouteResult | Promise<RouteResult>;
  try {
    routed = routeRequest(d.cfg, req);
  } catch {
    // A user function (skip, a header function) threw; there is no next(err) for an upgrade.
    return answerStatus(req, socket, 500);
  }
  // An async skip: wait for it; a rejection answers 500 as a throw does.
  if (routed instanceof Promise) {
    routed.then((r) => upgradeRouted(deps, req, socket, head, r)).catch(() => answerStatus(req, socket, 500));
    return;
  }
  upgradeRouted(deps, req, socket, head, routed);
}

/**
 * Whether this middleware takes the upgrade (see upgrade-routing.ts). When it does, `req.url`
 * loses the mount path as Express strips it for HTTP, and `req.originalUrl` keeps the full one
 * (so a refused upgrade's redirect is rewritten under the mount, as for HTTP).
 */
function takeUpgrade(req: IncomingMessage, socket: Duplex, mw: unknown, self: UpgradeHandler): boolean {
  const where = routeUpgrade(req, mw, self);
  if (!where.take) {
    if (where.answer404) {
      socket.on('error', ignoreError);
      answerStatus(req, socket, 404);
    }
    return false;
  }
  socket.on('error', ignoreError);
  if (where.url !== req.url) {
    const r = req as IncomingMessage & { originalUrl?: string };
    r.originalUrl ??= req.url;
    req.url = where.url;
  }
  return true;
}

/** The upgrade once routed (skip answered): 404 when skipped, the error answer, or the attempts. */
function upgradeRouted(deps: UpgradeDeps, req: IncomingMessage, socket: Duplex, head: Buffer, routed: RouteResult): void {
  if (routed === SKIP) return answerStatus(req, socket, 404);
  if (routed instanceof ProxyError) return answerError(deps.d, req, socket, routed);
  if (requestStart.hasSubscribers || requestEnd.hasSubscribers) announceUpgrade(routed, socket);
  proxyUpgrade(deps, routed, socket, head).catch(() => {
    // balancer.next or retryFilter threw before anything was sent.
    answerStatus(req, socket, 500);
  });
}

/** `switchyard:request:start` for an upgrade, and `switchyard:request:end` when the client socket closes (a tunnel's end). */
function announceUpgrade(p: ProxiedRequest, socket: Duplex): void {
  const started = Date.now();
  if (requestStart.hasSubscribers) requestStart.publish({ req: p.req, kind: 'upgrade', method: p.method, path: p.upstreamPath });
  if (!requestEnd.hasSubscribers) return;
  socket.once('close', (hadError: boolean) => {
    requestEnd.publish({ req: p.req, status: 0, complete: !hadError, duration: Date.now() - started });
  });
}

/** `mw.upgrade` when `ws` is off: 501, then the socket is closed (upgrades outside the mount are left alone). */
export function createUpgradeRefuser(mw: unknown): UpgradeHandler {
  const refuse: UpgradeHandler = markUpgradeListener((req, socket) => {
    if (takeUpgrade(req, socket, mw, refuse)) answerStatus(req, socket, 501);
  });
  return refuse;
}
