/**
 * The counters behind `mw.metrics()` that `stats()` does not already keep: failed attempts by
 * code, retries and the attempt duration histogram of each target, and the requests each
 * middleware answered with a ProxyError, by code.
 *
 * Counting is a few numeric writes into arrays allocated once, when a target (or a middleware)
 * is created: no string-keyed map and no allocation per request. Formatting the exposition
 * is left to `metrics()` (observability/metrics.ts), which is called rarely.
 */
import type { ProxyError } from '../errors/proxy-error.js';
import type { ProxyErrorCode } from '../types.js';

/**
 * Upper bounds (seconds) of the duration histogram: the Prometheus client libraries' default
 * buckets, so dashboards built for other services read ours the same way. The last slot of
 * the counts array is `+Inf`.
 */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);

/**
 * `code` label values of failed attempts, in slot order: the ProxyError codes an attempt can
 * fail with, then `UPSTREAM_BROKEN` (the upstream broke after its response head was sent on)
 * and `OTHER` (no upstream fault: a `responseHeaders` function threw, or the proxy closed
 * during a WebSocket handshake).
 */
export const FAILURE_CODES: readonly string[] = Object.freeze([
  'UPSTREAM_UNAVAILABLE',
  'UPSTREAM_TIMEOUT',
  'UNEXPECTED_STATUS',
  'RESPONSE_HOOK_FAILED',
  'CLIENT_TIMEOUT',
  'UPSTREAM_BROKEN',
  'OTHER',
]);
const BROKEN = 5;
const OTHER = 6;

/** Slot of each ProxyError code in a target's failure counts; codes no attempt ends with count as OTHER. */
const FAILURE_SLOT: Readonly<Record<ProxyErrorCode, number>> = Object.freeze({
  UPSTREAM_UNAVAILABLE: 0,
  UPSTREAM_TIMEOUT: 1,
  UNEXPECTED_STATUS: 2,
  RESPONSE_HOOK_FAILED: 3,
  CLIENT_TIMEOUT: 4,
  NO_UPSTREAM: OTHER,
  BAD_REQUEST: OTHER,
});

/** Every ProxyError code, in the order `switchyard_errors_total` lists them. */
export const ERROR_CODES: readonly ProxyErrorCode[] = Object.freeze([
  'UPSTREAM_UNAVAILABLE',
  'UPSTREAM_TIMEOUT',
  'NO_UPSTREAM',
  'UNEXPECTED_STATUS',
  'RESPONSE_HOOK_FAILED',
  'BAD_REQUEST',
  'CLIENT_TIMEOUT',
]);
const ERROR_SLOT: Readonly<Record<ProxyErrorCode, number>> = Object.freeze(
  Object.fromEntries(ERROR_CODES.map((code, i) => [code, i])) as Record<ProxyErrorCode, number>,
);

/** One target's metric counters (shared by every middleware using the target, as `stats()` is). */
export interface TargetMetrics {
  /** Attempts sent to this target that were retries (attempt 2 or later of a request). */
  retries: number;
  /** Failed attempts by {@link FAILURE_CODES} slot. */
  readonly failures: Float64Array;
  /** Ended attempts by {@link DURATION_BUCKETS} slot (not cumulative; the last slot is `+Inf`). */
  readonly durations: Float64Array;
  /** Sum of the observed durations, in seconds. */
  durationSum: number;
}

export function createTargetMetrics(): TargetMetrics {
  return {
    retries: 0,
    failures: new Float64Array(FAILURE_CODES.length),
    durations: new Float64Array(DURATION_BUCKETS.length + 1),
    durationSum: 0,
  };
}

/**
 * The start time of an attempt, for the histogram. Every attempt is timed, scraped or not, so
 * the histogram's `_count` always matches the requests counted: two clock reads are about
 * 0.1 µs on a request that costs tens of µs.
 */
export function attemptStartTime(): number {
  return performance.now();
}

/**
 * Counts how one attempt ended, `started` being {@link attemptStartTime}'s answer. A WebSocket tunnel's end (answered without a status: its 101 was counted at the
 * handshake) is not a latency and stays out of the histogram.
 */
export function recordAttemptEnd(
  m: TargetMetrics,
  how: 'answered' | 'aborted' | 'broken' | 'failed',
  status: number,
  error: ProxyError | undefined,
  started: number,
): void {
  if (how === 'failed') (m.failures[error === undefined ? OTHER : (FAILURE_SLOT[error.code] ?? OTHER)] as number)++;
  else if (how === 'broken') (m.failures[BROKEN] as number)++;
  else if (how === 'answered' && status === 0) return;
  observeDuration(m, (performance.now() - started) / 1000);
}

/** Counts one attempt duration: in the first bucket whose bound is >= `seconds` (Prometheus `le`). */
export function observeDuration(m: TargetMetrics, seconds: number): void {
  let i = 0;
  while (i < DURATION_BUCKETS.length && seconds > (DURATION_BUCKETS[i] as number)) i++;
  (m.durations[i] as number)++;
  m.durationSum += seconds;
}

/** Requests one middleware answered with a ProxyError, by {@link ERROR_CODES} slot. */
export interface MiddlewareMetrics {
  readonly errors: Float64Array;
}

export function createMiddlewareMetrics(): MiddlewareMetrics {
  return { errors: new Float64Array(ERROR_CODES.length) };
}

/** Counts one request answered with `error` (handed to the error handler). */
export function recordError(m: MiddlewareMetrics, error: ProxyError): void {
  (m.errors[ERROR_SLOT[error.code] ?? 0] as number)++;
}
