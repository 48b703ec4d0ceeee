/**
 * The HTTP attempts of one request: each sends the request to one target through the
 * transport and, when the answer is wanted, writes it into `res` from the transport's
 * callbacks — head, then each body chunk with backpressure — with no stream in between.
 * With `modifyResponse` the answer is handed over as an {@link UpstreamResponse} instead.
 * An unwanted answer (outside `expectedStatus`, or a `retryOn` status with attempts left) is
 * drained so its connection is reused, and reported as a failure for the loop to decide.
 */
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Lease } from './balancer/lease.js';
import type { ResolvedConfig } from './config/normalize-config.js';
import { classifyFailure, type FailureKind } from './errors/classify-error.js';
import { ProxyError } from './errors/proxy-error.js';
import { filterResponseHeaders } from './headers/upstream-headers.js';
import { HOST_SLOT, toHeaderList } from './headers/header-list.js';
import type { MiddlewareMetrics } from './observability/metric-counters.js';
import type { ProxiedRequest } from './proxied-request.js';
import { createUpstreamResponse } from './response/upstream-response.js';
import { rawHeaderStrings, writeUpstreamHead } from './response/write-response.js';
import { ABORTED, startAttemptLoop, type AttemptResult, type LoopOutcome, type Settle } from './retry/attempt-loop.js';
import { isIdempotent } from './retry/retry-policy.js';
import { targetAddress } from './routing/target-address.js';
import type { DeadlineClock } from './transport/deadline-clock.js';
import { dispatchAttempt, type AttemptSink, type AttemptTimeouts, type UpstreamCall } from './transport/dispatch.js';
import type { Pools } from './transport/pools.js';
import type { UpstreamResponse } from './types.js';

/** What every HTTP attempt of one middleware shares. */
export interface HttpDeps {
  readonly cfg: ResolvedConfig;
  readonly pools: Pools;
  readonly clock: DeadlineClock;
  readonly timeouts: AttemptTimeouts;
  /** This middleware's own metric counters (the per-target ones live on the targets). */
  readonly metrics: MiddlewareMetrics;
}

/**
 * An answered attempt: the response is being streamed into `res` (`streaming`), waits for
 * the hook (`hook`), or could not be started because a `responseHeaders` function threw.
 */
export type HttpAnswer =
  | { readonly via: 'streaming' }
  | { readonly via: 'hook'; readonly proxyRes: UpstreamResponse; readonly lease: Lease; readonly attempts: number }
  | { readonly via: 'threw'; readonly error: unknown };

const STREAMING: HttpAnswer = Object.freeze({ via: 'streaming' });

const WAITING = 0;
const STREAMING_MODE = 1;
const HOOK = 2;
const DRAINING = 3;
const DONE = 4;

/** `Content-Length` of a raw header list, or -1. */
function contentLength(raw: readonly string[]): number {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 14 && name.toLowerCase() === 'content-length') {
      const n = Number(raw[i + 1]);
      return Number.isSafeInteger(n) && n >= 0 ? n : -1;
    }
  }
  return -1;
}

/** One attempt: the transport's sink, and what is needed to answer the client. */
class HttpAttempt implements AttemptSink {
  private mode = WAITING;
  private status = 0;
  /** Body bytes still to come when the upstream sent a Content-Length; -1 otherwise. */
  private remaining = -1;
  private proxyRes: UpstreamResponse | undefined = undefined;
  private onDrain: (() => void) | undefined = undefined;
  call: UpstreamCall | undefined = undefined;

  constructor(
    private readonly d: HttpDeps,
    private readonly p: ProxiedRequest,
    private readonly res: ServerResponse,
    private readonly lease: Lease,
    private readonly attempts: number,
    private readonly mayRetry: boolean,
    private readonly settle: (result: AttemptResult<HttpAnswer>) => void,
  ) {}

  private clientGone(): boolean {
    return this.res.destroyed || this.p.req.socket?.destroyed === true;
  }

  /** The client went away (`res` closed before it finished). */
  onClientClose(): void {
    const mode = this.mode;
    if (mode === DONE || mode === DRAINING || mode === HOOK) return;
    this.mode = DONE;
    this.call?.abort();
    this.lease.end('aborted');
    if (mode === WAITING) this.settle(ABORTED);
  }

  head(call: UpstreamCall, status: number, rawHeaders: Buffer[], statusText: string): void {
    const cfg = this.d.cfg;
    const unexpected = cfg.expectedStatus !== undefined && !cfg.expectedStatus.has(status);
    const statusRetry = !unexpected && this.mayRetry && cfg.retryOn.has(status) && isIdempotent(this.p.req);
    if (unexpected || statusRetry) {
      this.mode = DRAINING;
      const target = this.lease.target;
      const error = new ProxyError('UNEXPECTED_STATUS', `upstream ${target.name} answered ${status}`, { target, attempts: this.attempts, connected: true });
      this.settle({ kind: 'failed', error, statusRetry });
      return;
    }
    const raw = rawHeaderStrings(rawHeaders);
    if (cfg.modifyResponse !== undefined) {
      this.mode = HOOK;
      const proxyRes = createUpstreamResponse(call, status, statusText, raw);
      this.proxyRes = proxyRes;
      // The hook decides when the body is read.
      call.pause();
      this.settle({ kind: 'answered', value: { via: 'hook', proxyRes, lease: this.lease, attempts: this.attempts } });
      return;
    }
    this.mode = STREAMING_MODE;
    this.status = status;
    try {
      writeUpstreamHead(cfg, this.p, this.res, this.lease.target, { status, statusText, headers: filterResponseHeaders(raw) });
    } catch (error) {
      this.mode = DONE;
      call.abort();
      this.lease.end('failed', 0);
      this.settle({ kind: 'answered', value: { via: 'threw', error } });
      return;
    }
    this.remaining = this.p.method === 'HEAD' ? -1 : contentLength(raw);
    this.settle({ kind: 'answered', value: STREAMING });
  }

  data(call: UpstreamCall, chunk: Buffer): boolean {
    const mode = this.mode;
    if (mode === STREAMING_MODE) {
      // The last bytes of a Content-Length body: head and body leave in one write.
      if (this.remaining === chunk.length) {
        this.remaining = 0;
        this.complete(chunk);
        return true;
      }
      if (this.remaining > 0) this.remaining -= chunk.length;
      if (this.res.write(chunk)) return true;
      this.res.once('drain', (this.onDrain ??= () => call.resume()));
      return false;
    }
    if (mode === HOOK) return (this.proxyRes as UpstreamResponse).push(chunk);
    return true;
  }

  end(): void {
    const mode = this.mode;
    if (mode === STREAMING_MODE) this.complete(undefined);
    else if (mode === HOOK) (this.proxyRes as UpstreamResponse).push(null);
    else if (mode === DRAINING) this.mode = DONE;
  }

  private complete(last: Buffer | undefined): void {
    this.mode = DONE;
    if (last === undefined) this.res.end();
    else this.res.end(last);
    this.lease.end('answered', this.status);
  }

  upgraded(_call: UpstreamCall, _raw: Buffer[], socket: Duplex): void {
    // Only an upgrade request can be upgraded; a misbehaving upstream gets its socket closed.
    socket.destroy();
    this.failed(_call, 'error', new Error('unexpected upgrade'), false);
  }

  failed(call: UpstreamCall, kind: FailureKind, cause: unknown, afterHead: boolean): void {
    const mode = this.mode;
    if (mode === DONE) return;
    if (mode === DRAINING) {
      this.mode = DONE;
      return;
    }
    if (mode === HOOK) {
      (this.proxyRes as UpstreamResponse).destroy(cause instanceof Error ? cause : new Error(String(cause)));
      return;
    }
    this.mode = DONE;
    if (this.clientGone()) {
      this.lease.end('aborted');
      if (mode === WAITING) this.settle(ABORTED);
      return;
    }
    if (afterHead || mode === STREAMING_MODE) {
      // Headers are on their way: the only honest signal left is a broken connection.
      this.res.destroy();
      this.lease.end('broken', this.status);
      return;
    }
    const error = classifyFailure(kind, cause, { target: this.lease.target, attempts: this.attempts, connected: call.connected });
    this.settle({ kind: 'failed', error, statusRetry: false });
  }
}

/** One request's attempts: what each attempt needs, and the attempt in flight for client aborts. */
class HttpAttempts {
  current: HttpAttempt | undefined = undefined;
  readonly headerList: string[];

  constructor(
    private readonly d: HttpDeps,
    private readonly p: ProxiedRequest,
    private readonly res: ServerResponse,
  ) {
    this.headerList = toHeaderList(p.headers);
  }

  /** Sends one attempt of the request on `lease.target`. */
  attempt(lease: Lease, attempts: number, mayRetry: boolean, settle: Settle<HttpAnswer>): void {
    const { d, p, res, headerList } = this;
    const target = lease.target;
    const holder = res as ServerResponse & { locals?: Record<string, unknown> };
    (holder.locals ??= {})[d.cfg.contextKey] = target;
    const address = targetAddress(target);
    if (!p.hostFixed) headerList[HOST_SLOT] = address.host;
    const attempt = new HttpAttempt(d, p, res, lease, attempts, mayRetry, settle);
    this.current = attempt;
    attempt.call = dispatchAttempt(
      d.pools.dispatcher,
      d.clock,
      d.timeouts,
      {
        origin: address.origin,
        method: p.method,
        path: address.prefix + p.upstreamPath,
        headers: headerList,
        body: p.body.forAttempt(),
        upgrade: null,
        reset: d.pools.closeEach,
        servername: d.pools.servername(address.hostname),
      },
      attempt,
    );
  }
}

/**
 * Runs the attempts of one HTTP request and calls `done` with the outcome (or `fail` when a
 * user callback threw). A status listed in `retryOn` is retried while attempts remain; on the
 * last attempt that response is answered as it is.
 */
export function startHttpAttempts(
  d: HttpDeps,
  p: ProxiedRequest,
  res: ServerResponse,
  done: (outcome: LoopOutcome<HttpAnswer>) => void,
  fail: (err: unknown) => void,
): void {
  const attempts = new HttpAttempts(d, p, res);
  // One close listener per request, whatever the number of attempts.
  const onClose = (): void => {
    if (!res.writableFinished) attempts.current?.onClientClose();
  };
  res.once('close', onClose);
  const finish = (outcome: LoopOutcome<HttpAnswer>): void => {
    if (outcome.kind !== 'answered') {
      res.off('close', onClose);
      p.body.release(outcome.kind === 'error');
    }
    done(outcome);
  };
  startAttemptLoop<HttpAnswer>(
    d.cfg,
    {
      req: p.req,
      client: res,
      canReplay: () => p.body.replayable,
      attempt: (lease, n, mayRetry, settle) => attempts.attempt(lease, n, mayRetry, settle),
    },
    finish,
    (err) => {
      res.off('close', onClose);
      p.body.release(true);
      fail(err);
    },
  );
}
