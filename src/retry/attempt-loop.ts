/**
 * The attempt loop shared by HTTP requests and WebSocket upgrades: select → forward →
 * classify → decide, until an answer, a final error, or a client that went away. An attempt
 * knows nothing of retries; the loop decides. The bookkeeping helpers below keep the target
 * counters and passive health the same for both.
 */
import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { countersOf, recordStatus } from '../balancer/target.js';
import type { ResolvedConfig } from '../config/normalize-config.js';
import { classifyFailure, type FailureKind } from '../errors/classify-error.js';
import { ProxyError } from '../errors/proxy-error.js';
import type { ProxyTarget } from '../types.js';
import { pickTarget } from './pick-target.js';
import { defaultRetryFilter } from './retry-policy.js';

/** A failed attempt. `statusRetry`: a `retryOn` status, retried without asking the filter. */
export interface FailedAttempt {
  readonly kind: 'failed';
  readonly error: ProxyError;
  readonly statusRetry: boolean;
}

export interface ErrorOutcome {
  readonly kind: 'error';
  readonly error: ProxyError;
}

export interface AbortedOutcome {
  readonly kind: 'aborted';
}

export const ABORTED: AbortedOutcome = Object.freeze({ kind: 'aborted' });

/** A transport failure as the forwarders report it. */
export interface ForwardFailure {
  readonly failure: FailureKind;
  readonly cause: unknown;
  readonly connected: boolean;
}

/** What the loop needs to know about one request. */
export interface AttemptSpec<T> {
  readonly req: IncomingMessage;
  /** The client side (response or socket): emits `close` when the client goes away. */
  readonly client: EventEmitter & { readonly destroyed: boolean };
  /** Whether the request can be sent again (no body, or a replayable one). */
  canReplay(): boolean;
  /** One attempt on `target`; `mayRetry` tells whether another attempt could follow. */
  attempt(target: ProxyTarget, attempts: number, mayRetry: boolean): Promise<T | FailedAttempt | AbortedOutcome>;
}

/** Counts an attempt as started on `target`. */
export function beginAttempt(target: ProxyTarget): void {
  const counters = countersOf(target);
  counters.active++;
  counters.requests++;
}

/** The client went away during the attempt: 499, and the target is free again. */
export function abortAttempt(target: ProxyTarget): AbortedOutcome {
  countersOf(target).active--;
  recordStatus(target, 499);
  return ABORTED;
}

/** A connection or timeout failure: counted, reported to passive health, classified. */
export function failAttempt(cfg: ResolvedConfig, target: ProxyTarget, result: ForwardFailure, attempts: number): FailedAttempt {
  const counters = countersOf(target);
  counters.active--;
  counters.failures++;
  cfg.passive?.recordFailure(target);
  const error = classifyFailure(result.failure, result.cause, { target, attempts, connected: result.connected });
  return { kind: 'failed', error, statusRetry: false };
}

/**
 * An upstream answer that is not wanted (outside `expectedStatus`, or a `retryOn` status
 * with attempts left). Its body is drained so the pooled connection stays usable.
 */
export function rejectAnswer(proxyRes: IncomingMessage, target: ProxyTarget, attempts: number, statusRetry: boolean): FailedAttempt {
  proxyRes.resume();
  const counters = countersOf(target);
  counters.active--;
  counters.failures++;
  const status = proxyRes.statusCode ?? 0;
  const error = new ProxyError('UNEXPECTED_STATUS', `upstream ${target.name} answered ${status}`, { target, attempts, connected: true });
  return { kind: 'failed', error, statusRetry };
}

/** Waits `ms` between attempts, cut short when the client goes away (no timer outlives it). */
function pause(client: EventEmitter, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      client.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    client.once('close', done);
  });
}

/**
 * Runs attempts until one is answered or no retry is allowed: attempts remain (`retries`,
 * then `tryDuration`), the request can be replayed, and the filter agrees (a `retryOn`
 * status skips it). Each retry prefers a target not tried yet. A throwing `balancer.next`
 * or `retryFilter` rejects; the caller hands it on.
 */
export async function runAttemptLoop<T extends { readonly kind: string }>(cfg: ResolvedConfig, spec: AttemptSpec<T>): Promise<T | ErrorOutcome | AbortedOutcome> {
  const filter = cfg.retryFilter ?? defaultRetryFilter;
  const deadline = cfg.tryDuration > 0 ? Date.now() + cfg.tryDuration : 0;
  const remain = (attempts: number): boolean =>
    spec.canReplay() && (attempts <= cfg.retries || (deadline > 0 && Date.now() + cfg.tryInterval < deadline));
  let tried: Set<ProxyTarget> | undefined;
  let attempts = 0;
  let lastError: ProxyError | undefined;
  for (;;) {
    const target = pickTarget(cfg.balancer, spec.req, tried, cfg.maxConns);
    if (target === undefined) {
      return { kind: 'error', error: lastError ?? new ProxyError('NO_UPSTREAM', 'no upstream is available', { attempts }) };
    }
    attempts++;
    const result = await spec.attempt(target, attempts, remain(attempts));
    if (result.kind !== 'failed') return result as T | AbortedOutcome;
    const failed = result as FailedAttempt;
    lastError = failed.error;
    if (!remain(attempts) || !(failed.statusRetry || filter(failed.error, spec.req))) return { kind: 'error', error: failed.error };
    (tried ??= new Set()).add(target);
    if (attempts > cfg.retries) await pause(spec.client, cfg.tryInterval);
    if (spec.client.destroyed) {
      recordStatus(target, 499);
      return ABORTED;
    }
  }
}
