/**
 * Sends one WebSocket upgrade attempt to one target with node:http / node:https and reports
 * how it ended: switched protocols (the upstream socket is handed over), a normal HTTP answer
 * (the upstream refused the upgrade), a failure, or a client that went away.
 *
 * Why not http-proxy-3's `ws()` pass (forwarder.ts stays its only importer): that pass
 * - calls `socket.destroySoon()` on the client after every upstream error, so an upgrade can
 *   never be retried on another target, and the caller's error answer races the close;
 * - relays a refused upgrade's answer from the lowercased `headers` with hop-by-hop headers
 *   kept (it even adds `Connection: Upgrade`, echoed from the request, to a 403), writes the
 *   body without backpressure, and reports an upstream that dies mid-body as a fresh error
 *   after the status line was already sent;
 * - has no timeout of its own (`proxyTimeout` surfaces as ECONNRESET) and keeps its socket
 *   counters module-global, so one middleware's `close()` could not find its own tunnels.
 * Owning the request here gives retries, our timers and a caller-controlled answer; the
 * tunnel itself (two sockets piped) is tiny and lives in websocket/socket-registry.ts.
 */
import http, { type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FailureKind } from '../errors/classify-error.js';
import type { ProxyTarget } from '../types.js';
import type { Agents } from './agent.js';

/** One upgrade attempt to one target. */
export interface UpgradeRequest {
  readonly target: ProxyTarget;
  /** Full upstream path and query (target prefix already joined), sent as is. */
  readonly path: string;
  /** Upstream request headers, `host`, `connection` and `upgrade` included. */
  readonly headers: OutgoingHttpHeaders;
}

/** How an upgrade attempt ended. */
export type UpgradeResult =
  | { readonly kind: 'upgraded'; readonly proxyRes: IncomingMessage; readonly socket: Socket; readonly head: Buffer }
  | { readonly kind: 'response'; readonly proxyRes: IncomingMessage }
  | { readonly kind: 'failed'; readonly failure: FailureKind; readonly cause: unknown; readonly connected: boolean }
  | { readonly kind: 'aborted' };

export interface UpgradeForwarder {
  /** Sends the upgrade request; `client` is watched so a client that leaves aborts the attempt. */
  forward(client: Duplex, request: UpgradeRequest): Promise<UpgradeResult>;
}

export interface UpgradeForwarderOptions {
  readonly agents: Agents;
  /** Ms from dispatch to the upstream's answer (101 or otherwise). */
  readonly timeout: number;
  /** Ms to establish the upstream connection. */
  readonly connectTimeout: number;
  readonly verifyTls: boolean;
}

const ABORTED: UpgradeResult = Object.freeze({ kind: 'aborted' });

function unref(timer: NodeJS.Timeout): NodeJS.Timeout {
  timer.unref();
  return timer;
}

/** `new URL('http://[::1]/').hostname` keeps the brackets; a socket address must not have them. */
function bareHost(url: URL): string {
  const host = url.hostname;
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

function requestOptions(opts: UpgradeForwarderOptions, request: UpgradeRequest, secure: boolean): https.RequestOptions {
  const url = request.target.url;
  const options: https.RequestOptions = {
    agent: secure ? opts.agents.https : opts.agents.http,
    hostname: bareHost(url),
    port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
    method: 'GET',
    path: request.path,
    headers: request.headers,
  };
  if (secure) {
    options.servername = opts.agents.servername(url);
    options.rejectUnauthorized = opts.verifyTls;
  }
  return options;
}

/** Creates the upgrade forwarder of one middleware, sending through its agents. */
export function createUpgradeForwarder(opts: UpgradeForwarderOptions): UpgradeForwarder {
  function forward(client: Duplex, request: UpgradeRequest): Promise<UpgradeResult> {
    return new Promise((resolve) => {
      const secure = request.target.url.protocol === 'https:' || request.target.url.protocol === 'wss:';
      let settled = false;
      let connected = false;
      let proxyReq: ClientRequest | undefined;
      let timer: NodeJS.Timeout | undefined;
      let connectTimer: NodeJS.Timeout | undefined;
      const settle = (result: UpgradeResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(connectTimer);
        client.off('close', onClientClose);
        if (result.kind === 'failed' || result.kind === 'aborted') proxyReq?.destroy();
        resolve(result);
      };
      const fail = (failure: FailureKind, cause: unknown): void => settle({ kind: 'failed', failure, cause, connected });
      const onClientClose = (): void => settle(ABORTED);
      const markConnected = (): void => {
        connected = true;
        clearTimeout(connectTimer);
      };

      try {
        proxyReq = (secure ? https : http).request(requestOptions(opts, request, secure));
      } catch (err) {
        // Node refused the options or headers before anything was sent.
        fail('error', err);
        return;
      }
      timer = unref(setTimeout(() => fail('timeout', new Error('upstream response timeout')), opts.timeout));
      connectTimer = unref(setTimeout(() => fail('connect-timeout', new Error('upstream connect timeout')), opts.connectTimeout));
      client.once('close', onClientClose);
      const req = proxyReq;
      req.once('socket', (socket: Socket) => {
        if (req.reusedSocket || !socket.connecting) markConnected();
        else socket.once(secure ? 'secureConnect' : 'connect', markConnected);
      });
      req.once('upgrade', (proxyRes: IncomingMessage, socket: Socket, head: Buffer) => {
        if (settled) socket.destroy();
        else settle({ kind: 'upgraded', proxyRes, socket, head });
      });
      req.once('response', (proxyRes: IncomingMessage) => {
        if (settled) proxyRes.destroy();
        else settle({ kind: 'response', proxyRes });
      });
      req.on('error', (err) => {
        if (client.destroyed) settle(ABORTED);
        else fail('error', err);
      });
      req.end();
    });
  }
  return { forward };
}
