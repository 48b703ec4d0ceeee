/**
 * One server process: the proxy on a node:http server, per-request logging, and a graceful
 * shutdown that stops accepting, lets requests in flight finish, then calls `close()`.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProxyMiddleware } from '../types.js';
import { CliError } from './cli-error.js';
import { createInFlight } from './in-flight.js';
import { createProxy } from './create-proxy.js';
import { formatOrigin, type ListenAddress } from './listen-address.js';
import type { Log } from './log.js';
import { retireTargets } from './proxy-events.js';
import { createProxySlots, type Slot } from './proxy-slots.js';
import { createRequestLogger } from './request-log.js';
import type { CliSettings } from './settings.js';
import { withoutActiveChecks } from './shared-health.js';

/** A listening server. */
export interface RunningServer {
  /** The bound address (the real port when 0 was asked for). */
  readonly address: ListenAddress;
  /** The proxy serving new requests (a reload replaces it). */
  middleware(): ProxyMiddleware;
  /**
   * Builds a proxy from `settings` and serves new requests with it; the previous proxy finishes
   * its requests and WebSockets, then is closed. `listen`, workers and the drain timeout are
   * not changed.
   * @throws CliError when `proxy()` refuses the config (the running proxy is kept).
   */
  reload(settings: CliSettings): ProxyMiddleware;
  /** Requests whose response is not finished yet. */
  inFlight(): number;
  /**
   * Stops accepting connections, waits up to the drain timeout for requests in flight, then
   * closes what remains and calls the middleware's `close()`. Resolves `true` when everything
   * drained in time. Idempotent.
   */
  shutdown(): Promise<boolean>;
  /** Closes every connection now, in flight or not, WebSocket tunnels included (a second signal). */
  forceClose(): void;
}

function listen(server: http.Server, address: ListenAddress): Promise<ListenAddress> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.message;
      reject(new CliError(`switchyard: cannot listen on ${formatOrigin(address)}: ${why}`, 1));
    };
    server.once('error', onError);
    server.listen(address.port, address.host, () => {
      server.off('error', onError);
      resolve({ host: address.host, port: (server.address() as AddressInfo).port });
    });
  });
}

/**
 * `--keep-alive-timeout`. A load balancer that reuses a connection the proxy has just closed
 * gets a reset (AWS ALB answers 502): the proxy must keep idle connections longer than the
 * balancer does. `headersTimeout` is kept above it, the usual advice for Node behind a load
 * balancer since nodejs/node#27363 (older Node versions timed a kept-alive connection's next
 * request's headers from the previous one), and harmless on Node 20.
 */
function applyKeepAliveTimeout(server: http.Server, ms: number): void {
  server.keepAliveTimeout = ms;
  if (server.headersTimeout <= ms) server.headersTimeout = ms + 1000;
}

const SLOT = Symbol('switchyard.slot');

/** A response with the proxy slot serving it. */
type TrackedResponse = ServerResponse & { [SLOT]?: Slot };

/** Options of {@link startServer}. */
export interface ServerOptions {
  /** The cluster worker's id, named on its text log lines. */
  readonly worker?: number | undefined;
  /** Active health checks run elsewhere (the cluster primary): build proxies without them. */
  readonly sharedHealth?: boolean;
  /** Called with every proxy built, at start and on each reload. */
  readonly onProxy?: (mw: ProxyMiddleware) => void;
}

/**
 * Creates the proxy and listens.
 * @throws CliError: exit code 2 for a config `proxy()` refuses, 1 when the port cannot be bound.
 */
export async function startServer(settings: CliSettings, log: Log, opts: ServerOptions = {}): Promise<RunningServer> {
  const build = (s: CliSettings): ProxyMiddleware => {
    const config = opts.sharedHealth === true ? withoutActiveChecks(s.proxyConfig) : s.proxyConfig;
    const mw = createProxy(config, s.configPath, { trace: !s.quiet });
    opts.onProxy?.(mw);
    return mw;
  };
  const requestLogger = (s: CliSettings): ((req: IncomingMessage, res: ServerResponse) => void) | undefined =>
    s.quiet ? undefined : createRequestLogger(log, { contextKey: s.proxyConfig.contextKey ?? 'target', worker: opts.worker });
  const slots = createProxySlots(build(settings), settings.proxyConfig.ws === true);
  let logRequest = requestLogger(settings);
  const inFlight = createInFlight();
  let draining = false;

  // One listener function for every response (no closure per request): the response carries
  // its proxy slot.
  function onClose(this: TrackedResponse): void {
    inFlight.delete(this);
    slots.leave(this[SLOT] as Slot);
    // The response is done, so its keep-alive connection is idle: end it rather than wait
    // for keepAliveTimeout, or shutdown would linger on idle clients.
    if (draining) server.closeIdleConnections();
  }

  const server = http.createServer((req, res: TrackedResponse) => {
    logRequest?.(req, res);
    const slot = slots.enter();
    res[SLOT] = slot;
    inFlight.add(res);
    res.on('close', onClose);
    if (draining) res.shouldKeepAlive = false;
    slot.mw(req, res);
  });
  server.on('upgrade', (req, socket, head) => slots.upgrade(req, socket, head));
  if (settings.keepAliveTimeout !== undefined) applyKeepAliveTimeout(server, settings.keepAliveTimeout);

  let address: ListenAddress;
  try {
    address = await listen(server, settings.listen);
  } catch (err) {
    await slots.closeAll();
    throw err;
  }

  // Upgraded (WebSocket) sockets are no longer the HTTP server's to close: mw.close() ends them.
  const cutOff = async (): Promise<void> => {
    retireTargets(slots.current());
    server.closeAllConnections();
    await slots.closeAll();
  };
  let stopped: Promise<boolean> | undefined;
  const drain = async (): Promise<boolean> => {
    draining = true;
    // Responses not started yet tell their clients the connection closes after them.
    inFlight.forEach((res) => {
      if (!res.headersSent) res.shouldKeepAlive = false;
    });
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), settings.drainTimeout);
      timer.unref();
    });
    const drained = await Promise.race([closed.then(() => true as const), timedOut]);
    clearTimeout(timer);
    if (!drained) await cutOff();
    await closed;
    retireTargets(slots.current());
    await slots.closeAll();
    return drained;
  };

  return {
    address,
    middleware: slots.current,
    reload(next) {
      const mw = build(next);
      retireTargets(slots.current());
      slots.swap(mw, next.proxyConfig.ws === true);
      logRequest = requestLogger(next);
      return mw;
    },
    inFlight: () => inFlight.size,
    shutdown: () => (stopped ??= drain()),
    forceClose: () => void cutOff(),
  };
}
