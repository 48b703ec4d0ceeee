/**
 * The attempt loop shared by HTTP requests and WebSocket upgrades: select → lease → attempt →
 * decide, until an answer, a final error, or a client that went away. An attempt knows nothing
 * of retries; the loop decides, and ends the lease of every failed attempt (an answered attempt
 * keeps its lease until its body is done).
 *
 * Callback-driven rather than async: the common request (one attempt, answered) then runs
 * from routing to the upstream's answer without a promise or a microtask hop, which is most of
 * what a small request costs beyond Express itself. {@link runAttemptLoop} wraps it in a
 * promise for callers that prefer one.
 */
import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { beginLease, type Lease } from '../balancer/lease.js';
import { recordStatus } from '../balancer/target.js';
import type { ResolvedConfig } from '../config/normalize-config.js';
import { ProxyError } from '../errors/proxy-error.js';
import { attemptStart } from '../observability/channels.js';
import type { ProxyTarget } from '../types.js';
import { pickTarget } from './pick-target.js';
import { defaultRetryFilter } from './retry-policy.js';

/** The attempt was answered; `value` is what the caller needs to go on. */
export interface Answered<T> {
  readonly kind: 'answered';
  readonly value: T;
}

/** The attempt failed. `statusRetry`: a `retryOn` status, retried without asking the filter. */
export interface Failed {
  readonly kind: 'failed';
  readonly error: ProxyError;
  readonly statusRetry: boolean;
}

/** The client went away (the attempt already ended its lease as aborted). */
export interface Aborted {
  readonly kind: 'aborted';
}

export const ABORTED: Aborted = Object.freeze({ kind: 'aborted' });

export type AttemptResult<T> = Answered<T> | Failed | Aborted;

/** How the loop ended. */
export type LoopOutcome<T> = Answered<T> | { readonly kind: 'error'; readonly error: ProxyError } | Aborted;

/** Reports the result of one attempt, exactly once (possibly before `attempt` returns). */
export type Settle<T> = (result: AttemptResult<T>) => void;

/** What the loop needs to know about one request. */
export interface AttemptSpec<T> {
  readonly req: IncomingMessage;
  /** The client side (response or socket): emits `close` when the client goes away. */
  readonly client: EventEmitter & { readonly destroyed: boolean };
  /** Whether the request can be sent again (no body, or one that can be resent whole). */
  canReplay(): boolean;
  /** Starts one attempt on `lease.target`; `mayRetry` tells whether another could follow. */
  attempt(lease: Lease, attempts: number, mayRetry: boolean, settle: Settle<T>): void;
}

/** Waits `ms` between attempts, cut short when the client goes away (no timer or listener outlives it). */
function pause(client: EventEmitter, ms: number, then: () => void): void {
  const done = (): void => {
    clearTimeout(timer);
    client.off('close', done);
    then();
  };
  const timer = setTimeout(done, ms);
  client.once('close', done);
}

/** The user's `retryFilter` (or the default), with a clear error when it answers with a promise. */
function shouldRetry(cfg: ResolvedConfig, error: ProxyError, req: IncomingMessage): boolean {
  if (cfg.retryFilter === undefined) return defaultRetryFilter(error, req);
  const verdict: unknown = cfg.retryFilter(error, req);
  if (typeof (verdict as { then?: unknown } | null)?.then === 'function') {
    throw new TypeError('switchyard: retryFilter must return a boolean, not a Promise (it runs between attempts, synchronously)');
  }
  return Boolean(verdict);
}

function finalError(error: ProxyError): LoopOutcome<never> {
  // A final failure's status counts once per request, on the last target tried.
  if (error.target !== undefined) recordStatus(error.target, error.status);
  return { kind: 'error', error };
}

/**
 * Runs attempts until one is answered or no retry is allowed: attempts remain (`retries`,
 * then `tryDuration`), the request can be replayed, and the filter agrees (a `retryOn`
 * status skips it). Each retry prefers a target not tried yet. `done` gets the outcome once;
 * a throwing `balancer.next` or `retryFilter` goes to `fail` instead.
 */
export function startAttemptLoop<T>(
  cfg: ResolvedConfig,
  spec: AttemptSpec<T>,
  done: (outcome: LoopOutcome<T>) => void,
  fail: (err: unknown) => void,
): void {
  const deadline = cfg.tryDuration > 0 ? Date.now() + cfg.tryDuration : 0;
  let tried: Set<ProxyTarget> | undefined;
  let attempts = 0;
  let lastError: ProxyError | undefined;
  let lease: Lease;

  const remain = (): boolean =>
    spec.canReplay() && (attempts <= cfg.retries || (deadline > 0 && Date.now() + cfg.tryInterval < deadline));

  const next = (): void => {
    let target: ProxyTarget | undefined;
    try {
      target = pickTarget(cfg.balancer, spec.req, tried, cfg.maxConns);
    } catch (err) {
      return fail(err);
    }
    if (target === undefined) {
      return done(finalError(lastError ?? new ProxyError('NO_UPSTREAM', 'no upstream is available', { attempts })));
    }
    attempts++;
    lease = beginLease(target, cfg.passive, spec.req, attempts);
    if (attemptStart.hasSubscribers) attemptStart.publish({ req: spec.req, target, attempt: attempts });
    spec.attempt(lease, attempts, remain(), settle);
  };

  const afterPause = (): void => {
    if (!spec.client.destroyed) return next();
    recordStatus(lease.target, 499);
    done(ABORTED);
  };

  const settle = (result: AttemptResult<T>): void => {
    if (result.kind !== 'failed') return done(result);
    lease.end('failed', 0, result.error);
    lastError = result.error;
    let retry: boolean;
    try {
      retry = remain() && (result.statusRetry || shouldRetry(cfg, result.error, spec.req));
    } catch (err) {
      return fail(err);
    }
    if (!retry) return done(finalError(result.error));
    (tried ??= new Set()).add(lease.target);
    if (attempts > cfg.retries) return pause(spec.client, cfg.tryInterval, afterPause);
    afterPause();
  };

  next();
}

/** {@link startAttemptLoop} as a promise; a throwing `balancer.next` or `retryFilter` rejects. */
export function runAttemptLoop<T>(cfg: ResolvedConfig, spec: AttemptSpec<T>): Promise<LoopOutcome<T>> {
  return new Promise((resolve, reject) => startAttemptLoop(cfg, spec, resolve, reject));
}
