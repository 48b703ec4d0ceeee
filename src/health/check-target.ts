/**
 * One active health check: `GET path` on one target over its own short-lived connection
 * (`agent: false`, never the proxy's pool, so a check neither waits behind traffic nor keeps
 * a pooled socket busy). The body is read and discarded; the whole exchange, body included,
 * must finish within `timeout` or the request is destroyed and the check fails.
 */
import http, { type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import https from 'node:https';
import type { ResolvedTls } from '../config/normalize-config.js';
import { targetAddress } from '../routing/target-address.js';
import { lookupLocalhost } from '../transport/connector.js';
import type { ProxyTarget } from '../types.js';

/** What one check needs to know (a subset of the resolved `healthCheck` settings). */
export interface CheckOptions {
  readonly path: string;
  readonly timeout: number;
  /** Port to connect to instead of the target's own. */
  readonly port: number | undefined;
  /** Statuses that pass; `undefined` means any 2xx. */
  readonly expectStatus: ReadonlySet<number> | undefined;
}

/** A check in flight. */
export interface RunningCheck {
  /** Destroys the request; resolves once its connection is closed. */
  abort(): Promise<void>;
}

const USER_AGENT = 'switchyard-health-check';

function passes(status: number, expect: ReadonlySet<number> | undefined): boolean {
  return expect === undefined ? status >= 200 && status < 300 : expect.has(status);
}

function requestOptions(target: ProxyTarget, opts: CheckOptions, tls: ResolvedTls): { secure: boolean; options: RequestOptions } {
  const url = target.url;
  const secure = targetAddress(target).secure;
  const options: RequestOptions & https.RequestOptions = {
    method: 'GET',
    // `[::1]` in a URL is `::1` on the wire.
    hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: opts.port ?? (url.port === '' ? (secure ? 443 : 80) : Number(url.port)),
    // The path is the target's origin-relative path: the target URL's prefix is not added.
    path: opts.path,
    // The same Host the proxied requests carry, so virtual-hosted upstreams answer as usual.
    headers: { host: url.host, 'user-agent': USER_AGENT, accept: '*/*' },
    agent: false,
    lookup: lookupLocalhost,
  };
  if (secure) {
    options.rejectUnauthorized = tls.verify;
    if (tls.ca !== undefined) options.ca = tls.ca;
    if (tls.cert !== undefined) options.cert = tls.cert;
    if (tls.key !== undefined) options.key = tls.key;
    if (tls.servername !== undefined) options.servername = tls.servername === false ? '' : tls.servername;
  }
  return { secure, options };
}

/**
 * Starts one check of `target`; `done(passed)` is called exactly once, never synchronously,
 * unless the check is aborted first (then it reports a failure, which callers may ignore).
 */
export function checkTarget(
  target: ProxyTarget,
  opts: CheckOptions,
  tls: ResolvedTls,
  done: (passed: boolean) => void,
): RunningCheck {
  let settled = false;
  let timer: NodeJS.Timeout | undefined;
  const finish = (passed: boolean): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    done(passed);
  };
  let req: ClientRequest;
  try {
    const { secure, options } = requestOptions(target, opts, tls);
    req = (secure ? https : http).request(options);
  } catch {
    // A target the request cannot even be built for (a custom balancer's odd URL) fails its check.
    process.nextTick(finish, false);
    return { abort: () => Promise.resolve() };
  }
  const closed = new Promise<void>((resolve) => req.once('close', resolve));
  timer = setTimeout(() => req.destroy(), opts.timeout);
  timer.unref();
  req.once('error', () => finish(false));
  // Like the timers, a check never keeps the process alive on its own.
  req.once('socket', (socket) => socket.unref());
  req.once('response', (res: IncomingMessage) => {
    const ok = passes(res.statusCode ?? 0, opts.expectStatus);
    // An aborted response emits `error` on some Node versions; `close` decides the result.
    res.on('error', () => {});
    res.once('close', () => finish(ok && res.complete));
    res.resume();
  });
  req.end();
  return {
    abort() {
      req.destroy();
      return closed;
    },
  };
}
