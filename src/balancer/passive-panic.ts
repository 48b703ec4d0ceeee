/**
 * Passive health's panic mode: when passive marks would leave no target available, route as
 * if passive health were off. Failures spread over every target (one flaky endpoint on each
 * upstream, a burst during a deploy) otherwise mark them all down, and endpoints that work
 * get 503 `NO_UPSTREAM` for `failTimeout` (issue 12: 553 of 699 requests in a fault run).
 * nginx forgets failures when every server is down; Envoy ignores health below its panic
 * threshold. Active checks and `maxConns` still apply, and the marks stay (`stats()` shows
 * `healthy: false`). Only consulted once the normal pass found nothing, so `next()` stays a
 * single pass while any target is available.
 */
import { isDownOnlyByPassive } from '../health/target-health.js';
import type { ProxyTarget } from '../types.js';
import { countersOf, isAvailable, isLiveTarget, type LiveTarget } from './target.js';

/** Available but for passive marks: weight above 0, not full, not excluded, no active-check mark. */
function isAvailableIgnoringPassive(t: LiveTarget, exclude: ReadonlySet<ProxyTarget> | undefined): boolean {
  return isDownOnlyByPassive(t) && t.weight > 0 && t.active < t.maxConns && (exclude === undefined || !exclude.has(t));
}

/**
 * Fills `out` with the targets of `list` to choose from in panic mode and returns how many.
 * None while some target is available apart from `exclude` (a retry's already-tried
 * targets): passive marks have not left the request without a target then, and the caller
 * asks again without the exclusion.
 */
export function panicCandidates(list: readonly LiveTarget[], exclude: ReadonlySet<ProxyTarget> | undefined, out: LiveTarget[]): number {
  if (exclude !== undefined && list.some((t) => isAvailable(t))) return 0;
  let n = 0;
  for (const t of list) if (isAvailableIgnoringPassive(t, exclude)) out[n++] = t;
  return n;
}

/**
 * Whether `t`, chosen by a balancer, may be sent to in panic mode: held down by passive
 * marks only, otherwise usable. Callers first check ordinary availability.
 */
export function isUsableIgnoringPassive(t: ProxyTarget, maxConns: number): boolean {
  if (isLiveTarget(t)) return isAvailableIgnoringPassive(t, undefined);
  return t.healthy !== false && isDownOnlyByPassive(t) && countersOf(t).active < maxConns;
}
