/**
 * A target leased to one attempt: `beginLease(target)` counts it in flight, `lease.end(…)`
 * settles it exactly once (later calls are ignored). Every counter update an attempt causes —
 * active, requests, failures, final statuses, passive health, and the metrics of
 * observability/metric-counters.ts (retries, failures by code, duration) — happens here and
 * nowhere else.
 */
import type { IncomingMessage } from 'node:http';
import type { ProxyError } from '../errors/proxy-error.js';
import type { PassiveHealth } from '../health/passive.js';
import type { ProxyTarget } from '../types.js';
import { attemptEnd, debug } from '../observability/channels.js';
import { attemptStartTime, recordAttemptEnd } from '../observability/metric-counters.js';
import { countersOf, recordStatus, type TargetCounters } from './target.js';

/**
 * How an attempt ended:
 * - `answered`: the response was sent (or relayed) whole; `status` is recorded;
 * - `aborted`: the client went away; recorded as 499;
 * - `broken`: the upstream broke after its head was sent on; a failure, `status` recorded;
 * - `failed`: the attempt failed (`error`); a failure, and passive health hears of connection
 *   and timeout failures; `status` (the error's, when it is the final one) recorded if not 0.
 */
export type LeaseEnd = 'answered' | 'aborted' | 'broken' | 'failed';

export interface Lease {
  readonly target: ProxyTarget;
  end(how: LeaseEnd, status?: number, error?: ProxyError): void;
}

interface LeaseState extends Lease {
  readonly counters: TargetCounters;
  readonly passive: PassiveHealth | undefined;
  readonly req: IncomingMessage;
  readonly attempt: number;
  /** `performance.now()` when the attempt started, for the duration histogram. */
  readonly started: number;
  open: boolean;
}

function endLease(this: LeaseState, how: LeaseEnd, status = 0, error?: ProxyError): void {
  if (!this.open) return;
  this.open = false;
  const c = this.counters;
  c.active--;
  if (how === 'aborted') status = 499;
  else if (how !== 'answered') c.failures++;
  if (how === 'failed' && this.passive !== undefined && (error?.code === 'UPSTREAM_UNAVAILABLE' || error?.code === 'UPSTREAM_TIMEOUT')) {
    this.passive.recordFailure(this.target);
  }
  if (status !== 0) recordStatus(this.target, status);
  recordAttemptEnd(c.metrics, how, status, error, this.started);
  if (attemptEnd.hasSubscribers) {
    attemptEnd.publish({ req: this.req, target: this.target, attempt: this.attempt, outcome: how, status, error });
  }
  if (debug.enabled) debug('attempt %d to %s: %s %d%s', this.attempt, this.target.name, how, status, error === undefined ? '' : ` ${error.code}`);
}

/** Counts attempt number `attempt` of `req` as started on `target` and returns its lease. */
export function beginLease(target: ProxyTarget, passive: PassiveHealth | undefined, req: IncomingMessage, attempt: number): Lease {
  const counters = countersOf(target);
  counters.active++;
  counters.requests++;
  if (attempt > 1) counters.metrics.retries++;
  const lease: LeaseState = { target, counters, passive, req, attempt, started: attemptStartTime(), open: true, end: endLease };
  return lease;
}
