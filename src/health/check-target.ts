/**
 * One active health check: `GET path` on one target through the middleware's own transport
 * (transport/pools.ts `checks`), so a check connects exactly as requests do: the same TLS
 * settings, HTTP/2 by ALPN when `http2` is on (an HTTP/2-only upstream can be checked), and the
 * target's Unix socket. The checks have an Agent of their own and ask for the connection to be
 * closed after each check, so a check neither waits behind traffic for a pool slot nor leaves a
 * socket behind. The body is read and discarded; the whole exchange, body included, must
 * finish within `timeout` or the request is aborted and the check fails.
 */
import type { Dispatcher } from 'undici';
import { targetAddress, type TargetAddress } from '../routing/target-address.js';
import type { Pools } from '../transport/pools.js';
import type { ProxyTarget } from '../types.js';

/** What one check needs to know (a subset of the resolved `healthCheck` settings). */
export interface CheckOptions {
  readonly path: string;
  readonly timeout: number;
  /** Port to connect to instead of the target's own (TCP targets only). */
  readonly port: number | undefined;
  /** Statuses that pass; `undefined` means any 2xx. */
  readonly expectStatus: ReadonlySet<number> | undefined;
}

/** What a check is sent through: the pools' `checks` dispatcher and their SNI names. */
export type CheckTransport = Pick<Pools, 'checks' | 'servername'>;

/** A check in flight. */
export interface RunningCheck {
  /** Aborts the request; resolves once it has settled. */
  abort(): Promise<void>;
}

const USER_AGENT = 'switchyard-health-check';

function passes(status: number, expect: ReadonlySet<number> | undefined): boolean {
  return expect === undefined ? status >= 200 && status < 300 : expect.has(status);
}

/** The origin checked: the target's own, or the same host on `port` (a socket target has no port to change). */
function checkOrigin(address: TargetAddress, port: number | undefined, url: URL): string {
  if (port === undefined || address.socketPath !== undefined) return address.origin;
  return `${address.secure ? 'https' : 'http'}://${url.hostname}:${port}`;
}

/** undici reads `servername` from every request (see dispatch.ts); its request() types just omit it. */
type CheckRequest = Dispatcher.RequestOptions & { servername: string };

function requestOptions(target: ProxyTarget, opts: CheckOptions, transport: CheckTransport, signal: AbortSignal): CheckRequest {
  const address = targetAddress(target);
  return {
    origin: checkOrigin(address, opts.port, target.url),
    method: 'GET',
    // The path is the target's origin-relative path: the target URL's prefix is not added.
    path: opts.path,
    // The same Host the proxied requests carry, so virtual-hosted upstreams answer as usual.
    headers: { host: address.host, 'user-agent': USER_AGENT, accept: '*/*' },
    servername: transport.servername(address.hostname),
    // A fresh connection per check (HTTP/1.1; an HTTP/2 session is shared by its streams).
    reset: true,
    signal,
    // The check's own timer covers the whole exchange.
    headersTimeout: 0,
    bodyTimeout: 0,
  };
}

/** Reads a response body to its end; resolves whether it ended whole. */
async function drained(body: Dispatcher.ResponseData['body']): Promise<boolean> {
  try {
    for await (const chunk of body) void chunk;
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts one check of `target`; `done(passed)` is called exactly once, never synchronously,
 * unless the check is aborted first (then it reports a failure, which callers may ignore).
 */
export function checkTarget(
  target: ProxyTarget,
  opts: CheckOptions,
  transport: CheckTransport,
  done: (passed: boolean) => void,
): RunningCheck {
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  let settled: Promise<void>;
  const timer = setTimeout(abort, opts.timeout);
  // Like the interval, a check's timer never keeps the process alive on its own.
  timer.unref();
  try {
    settled = transport.checks
      .request(requestOptions(target, opts, transport, controller.signal))
      .then(async (res) => {
        const ok = passes(res.statusCode, opts.expectStatus);
        // Read even a failing answer to its end, so its connection is released.
        return (await drained(res.body)) && ok;
      })
      .then(
        (passed) => {
          clearTimeout(timer);
          done(passed && !controller.signal.aborted);
        },
        () => {
          clearTimeout(timer);
          done(false);
        },
      );
  } catch {
    // A target the request cannot even be built for (a custom balancer's odd URL) fails its check.
    clearTimeout(timer);
    process.nextTick(done, false);
    settled = Promise.resolve();
  }
  return {
    abort() {
      abort();
      return settled;
    },
  };
}
