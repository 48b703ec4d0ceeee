/**
 * One server process: the proxy on a node:http server, per-request logging, and a graceful
 * shutdown that stops accepting, lets requests in flight finish, then calls `close()`.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultErrorHandler } from '../errors/default-error-handler.js';
import { proxy } from '../proxy.js';
import type { ErrorHandler, ProxyConfig, ProxyMiddleware } from '../types.js';
import { CliError, isConfigError } from './cli-error.js';
import { formatOrigin, type ListenAddress } from './listen-address.js';
import type { Log } from './log.js';
import { createProxySlots } from './proxy-slots.js';
import { createRequestLogger, traces } from './request-log.js';
import type { CliSettings } from './settings.js';

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

/**
 * The config's `errorHandler` (or the built-in one), after noting the error on the request's
 * trace, so its log line can say why it failed.
 */
function tracingErrorHandler(handler: ErrorHandler | undefined): ErrorHandler {
  return (err, req, res, next) => {
    const trace = traces.get(req);
    if (trace !== undefined) trace.error = err;
    if (handler === undefined) return defaultErrorHandler(err, req, res);
    return handler(err, req, res, next);
  };
}

/**
 * `proxy(config)`, with its config errors turned into CLI errors (exit code 2).
 * @param opts.trace wrap the error handler so request lines carry the error (the summary's probe does not need it).
 * @throws CliError when `proxy()` refuses the config.
 */
export function createProxy(config: ProxyConfig, source: string | undefined, opts: { trace?: boolean } = {}): ProxyMiddleware {
  try {
    // A non-function errorHandler is left for proxy() to refuse with its own message.
    const traced = opts.trace === true && (config.errorHandler === undefined || typeof config.errorHandler === 'function');
    return proxy(traced ? { ...config, errorHandler: tracingErrorHandler(config.errorHandler) } : config);
  } catch (err) {
    if (!isConfigError(err)) throw err;
    throw new CliError(source === undefined ? err.message : `${err.message} (in ${source})`);
  }
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
 * Creates the proxy and listens.
 * @param opts.worker the cluster worker's id, named on its log lines.
 * @throws CliError: exit code 2 for a config `proxy()` refuses, 1 when the port cannot be bound.
 */
export async function startServer(settings: CliSettings, log: Log, opts: { worker?: number } = {}): Promise<RunningServer> {
  const build = (s: CliSettings): ProxyMiddleware => createProxy(s.proxyConfig, s.configPath, { trace: !s.quiet });
  const requestLogger = (s: CliSettings): ((req: IncomingMessage, res: ServerResponse) => void) | undefined =>
    s.quiet ? undefined : createRequestLogger(log, { contextKey: s.proxyConfig.contextKey ?? 'target', worker: opts.worker });
  const slots = createProxySlots(build(settings), settings.proxyConfig.ws === true);
  let logRequest = requestLogger(settings);
  const inFlight = new Set<ServerResponse>();
  let draining = false;

  const server = http.createServer((req, res) => {
    logRequest?.(req, res);
    inFlight.add(res);
    res.once('close', () => {
      inFlight.delete(res);
      // The response is done, so its keep-alive connection is idle: end it rather than wait
      // for keepAliveTimeout, or shutdown would linger on idle clients.
      if (draining) server.closeIdleConnections();
    });
    if (draining) res.shouldKeepAlive = false;
    slots.request(req, res);
  });
  server.on('upgrade', (req, socket, head) => slots.upgrade(req, socket, head));

  let address: ListenAddress;
  try {
    address = await listen(server, settings.listen);
  } catch (err) {
    await slots.closeAll();
    throw err;
  }

  // Upgraded (WebSocket) sockets are no longer the HTTP server's to close: mw.close() ends them.
  const cutOff = async (): Promise<void> => {
    server.closeAllConnections();
    await slots.closeAll();
  };
  let stopped: Promise<boolean> | undefined;
  const drain = async (): Promise<boolean> => {
    draining = true;
    // Responses not started yet tell their clients the connection closes after them.
    for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
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
    await slots.closeAll();
    return drained;
  };

  return {
    address,
    middleware: slots.current,
    reload(next) {
      const mw = build(next);
      slots.swap(mw, next.proxyConfig.ws === true);
      logRequest = requestLogger(next);
      return mw;
    },
    inFlight: () => inFlight.size,
    shutdown: () => (stopped ??= drain()),
    forceClose: () => void cutOff(),
  };
}
