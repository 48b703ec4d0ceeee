/**
 * The attempt loop: select → forward → classify → decide, until a response, a final error,
 * or a client that went away. One attempt knows nothing of retries; the loop decides.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { countersOf, isAvailable, isLiveTarget } from '../balancer/target.js';
import type { BodySource } from '../body/request-body.js';
import type { ResolvedConfig } from '../config/normalize-config.js';
import { classifyFailure } from '../errors/classify-error.js';
import { ProxyError } from '../errors/proxy-error.js';
import type { RequestContext } from '../request-context.js';
import { targetAddress } from '../routing/target-address.js';
import type { Forwarder } from '../transport/forwarder.js';
import type { Balancer, ProxyTarget } from '../types.js';
import { defaultRetryFilter, isIdempotent } from './retry-policy.js';

/** One request on its way upstream, prepared once before the first attempt. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly ctx: RequestContext;
  /** Upstream path and query after rewrite and template, before the target prefix. */
  readonly upstreamPath: string;
  readonly headers: OutgoingHttpHeaders;
  /** True when `host` was fixed before the first attempt (preserveHost or a header rule). */
  readonly hostFixed: boolean;
  readonly body: BodySource;
}

/** How the loop ended. */
export type Outcome =
  | { readonly kind: 'response'; readonly proxyRes: IncomingMessage; readonly target: ProxyTarget; readonly attempts: number }
  | { readonly kind: 'error'; readonly error: ProxyError }
  | { readonly kind: 'aborted' };

/** `statusRetry`: the attempt got a `retryOn` status and is retried without asking the filter. */
type AttemptResult = Outcome | { readonly kind: 'failed'; readonly error: ProxyError; readonly statusRetry: boolean };

const ABORTED: Outcome = Object.freeze({ kind: 'aborted' });

/** Waits `ms` between attempts, cut short when the client goes away (no timer outlives it). */
function pause(res: ServerResponse, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      res.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    res.once('close', done);
  });
}

/**
 * Whether `t` may be sent to now. Our balancers only return such targets; a custom balancer
 * cannot see our health marks or `maxConns`, so its choice is checked here.
 */
function isUsable(t: ProxyTarget, maxConns: number): boolean {
  if (isLiveTarget(t)) return isAvailable(t);
  const c = countersOf(t);
  return t.healthy !== false && c.healthy && c.active < maxConns;
}

/** Asks again with `skipped` (unusable targets) excluded, still preferring untried targets. */
function askAgain(
  balancer: Balancer,
  req: IncomingMessage,
  tried: Set<ProxyTarget> | undefined,
  skipped: Set<ProxyTarget>,
): ProxyTarget | undefined {
  if (tried === undefined) return balancer.next(req, skipped);
  return balancer.next(req, new Set([...tried, ...skipped])) ?? balancer.next(req, skipped);
}

/** Prefers a target not tried yet; once every available one was tried, any available one. */
export function pickTarget(
  balancer: Balancer,
  req: IncomingMessage,
  tried: Set<ProxyTarget> | undefined,
  maxConns: number,
): ProxyTarget | undefined {
  let target = tried === undefined ? balancer.next(req) : balancer.next(req, tried) ?? balancer.next(req);
  if (target === undefined || isUsable(target, maxConns)) return target;
  // Exclude the unusable choice and ask again; the exclude set exists only on this rare path.
  // Bounded by the target count, and a target returned twice ends it (a balancer ignoring
  // `exclude` cannot loop us): NO_UPSTREAM then, as when every target is down or full.
  const skipped = new Set<ProxyTarget>();
  const limit = balancer.targets.length;
  do {
    skipped.add(target);
    if (skipped.size > limit) return undefined;
    target = askAgain(balancer, req, tried, skipped);
  } while (target !== undefined && !skipped.has(target) && !isUsable(target, maxConns));
  return target === undefined || skipped.has(target) ? undefined : target;
}

function setContext(res: ServerResponse, key: string, target: ProxyTarget): void {
  const holder = res as ServerResponse & { locals?: Record<string, unknown> };
  (holder.locals ??= {})[key] = target;
}

/** Whether another attempt is allowed at all (count, deadline, body), before asking the filter. */
function attemptsRemain(x: Exchange, cfg: ResolvedConfig, attempts: number, deadline: number): boolean {
  if (!x.body.replayable) return false;
  return attempts <= cfg.retries || (deadline > 0 && Date.now() + cfg.tryInterval < deadline);
}

async function attemptOnce(
  x: Exchange,
  cfg: ResolvedConfig,
  forwarder: Forwarder,
  target: ProxyTarget,
  attempts: number,
  mayRetry: boolean,
): Promise<AttemptResult> {
  const counters = countersOf(target);
  counters.active++;
  counters.requests++;
  setContext(x.res, cfg.contextKey, target);
  const address = targetAddress(target);
  if (!x.hostFixed) x.headers.host = address.host;
  const result = await forwarder.forward(x.req, x.res, {
    target,
    path: address.prefix + x.upstreamPath,
    headers: x.headers,
    body: x.body.fresh(),
  });
  if (result.kind === 'response') {
    const status = result.proxyRes.statusCode ?? 0;
    const unexpected = cfg.expectedStatus !== undefined && !cfg.expectedStatus.has(status);
    const statusRetry = !unexpected && mayRetry && cfg.retryOn.has(status) && isIdempotent(x.req);
    if (!unexpected && !statusRetry) return { kind: 'response', proxyRes: result.proxyRes, target, attempts };
    // The body of an unwanted response is discarded; draining keeps the pooled socket usable.
    result.proxyRes.resume();
    counters.active--;
    counters.failures++;
    const error = new ProxyError('UNEXPECTED_STATUS', `upstream ${target.name} answered ${status}`, {
      target, attempts, connected: true,
    });
    return { kind: 'failed', error, statusRetry };
  }
  counters.active--;
  if (result.kind === 'aborted') {
    counters.statuses[499] = (counters.statuses[499] ?? 0) + 1;
    return ABORTED;
  }
  counters.failures++;
  cfg.passive?.recordFailure(target);
  const error = classifyFailure(result.failure, result.cause, { target, attempts, connected: result.connected });
  return { kind: 'failed', error, statusRetry: false };
}

/**
 * Runs attempts until one succeeds or no retry is allowed. A status listed in `retryOn` is
 * retried while attempts remain; on the last attempt that response is returned as it is.
 * A throwing `balancer.next` or `retryFilter` rejects (the caller hands it to `next(err)`).
 */
export async function runAttempts(x: Exchange, cfg: ResolvedConfig, forwarder: Forwarder): Promise<Outcome> {
  const filter = cfg.retryFilter ?? defaultRetryFilter;
  const deadline = cfg.tryDuration > 0 ? Date.now() + cfg.tryDuration : 0;
  let tried: Set<ProxyTarget> | undefined;
  let attempts = 0;
  let lastError: ProxyError | undefined;
  for (;;) {
    const target = pickTarget(cfg.balancer, x.req, tried, cfg.maxConns);
    if (target === undefined) {
      return { kind: 'error', error: lastError ?? new ProxyError('NO_UPSTREAM', 'no upstream is available', { attempts }) };
    }
    attempts++;
    const result = await attemptOnce(x, cfg, forwarder, target, attempts, attemptsRemain(x, cfg, attempts, deadline));
    if (result.kind !== 'failed') return result;
    lastError = result.error;
    if (!attemptsRemain(x, cfg, attempts, deadline) || !(result.statusRetry || filter(result.error, x.req))) {
      return { kind: 'error', error: result.error };
    }
    (tried ??= new Set()).add(target);
    if (attempts > cfg.retries) await pause(x.res, cfg.tryInterval);
    if (x.res.destroyed) {
      const statuses = countersOf(target).statuses;
      statuses[499] = (statuses[499] ?? 0) + 1;
      return ABORTED;
    }
  }
}
