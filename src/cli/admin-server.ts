/**
 * `--admin [host:]port`: a second listener, apart from the proxied traffic, for the operator:
 * `/metrics` (Prometheus text), `/stats` (JSON of `stats()`), `/healthz` (200 when at least
 * one target is healthy, else 503). Off by default; loopback unless a host is given.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProxyMiddleware, TargetStats } from '../types.js';
import { CliError } from './cli-error.js';
import { formatOrigin, type ListenAddress } from './listen-address.js';
import type { Log } from './log.js';

/** Where the admin endpoints read from: one proxy, or the workers of a cluster. */
export interface AdminSource {
  stats(): Promise<readonly TargetStats[]>;
  /** The Prometheus text exposition. */
  metrics(): Promise<string>;
}

/** A listening admin server. */
export interface AdminServer {
  readonly address: ListenAddress;
  close(): Promise<void>;
}

const PROMETHEUS_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

async function route(source: AdminSource, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return send(res, 405, 'text/plain; charset=utf-8', 'Method Not Allowed\n');
  }
  if (path === '/stats') return send(res, 200, JSON_TYPE, `${JSON.stringify(await source.stats(), null, 2)}\n`);
  if (path === '/healthz') {
    const stats = await source.stats();
    const healthy = stats.filter((t) => t.healthy).length;
    const body = JSON.stringify({ status: healthy > 0 ? 'ok' : 'unavailable', healthy, targets: stats.length });
    return send(res, healthy > 0 ? 200 : 503, JSON_TYPE, `${body}\n`);
  }
  if (path === '/metrics') {
    return send(res, 200, PROMETHEUS_TYPE, await source.metrics());
  }
  send(res, 404, 'text/plain; charset=utf-8', 'Not Found: try /metrics, /stats or /healthz\n');
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** Whether `host` is reachable only from this machine. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

/**
 * Listens on `address` and serves the admin endpoints from `source`. A non-loopback address
 * is allowed (a Prometheus on another machine may scrape it) but warned about: the endpoints
 * have no authentication.
 * @throws CliError (exit code 1) when the address cannot be bound.
 */
export function startAdminServer(address: ListenAddress, source: AdminSource, log: Log): Promise<AdminServer> {
  if (!isLoopback(address.host)) {
    log.error(`switchyard: warning: --admin ${formatOrigin(address)} is reachable from other machines; its endpoints have no authentication`);
  }
  const server = http.createServer((req, res) => {
    route(source, req, res).catch((err: unknown) => {
      log.error(`switchyard: admin ${req.url ?? ''} failed: ${(err as Error)?.message ?? String(err)}`);
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'Internal Server Error\n');
      else res.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.message;
      reject(new CliError(`switchyard: cannot listen on --admin ${formatOrigin(address)}: ${why}`, 1));
    });
    server.listen(address.port, address.host, () => {
      const bound = { host: address.host, port: (server.address() as AddressInfo).port };
      // Admin connections never hold up a shutdown.
      server.unref();
      resolve({
        address: bound,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/** The admin source of one proxy in this process (`current` follows reloads). */
export function proxySource(current: () => ProxyMiddleware): AdminSource {
  return {
    stats: async () => current().stats(),
    metrics: async () => current().metrics(),
  };
}
