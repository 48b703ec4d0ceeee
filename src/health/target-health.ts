/**
 * A target's health from its two sources: active checks and passive health. Each source
 * marks a target down and up again; the one `healthy` flag on the target's counters is
 * derived here whenever a mark changes, so `isAvailable()` on the hot path stays a field read.
 *
 * Marks are counted, not flags: one balancer may be shared by several middlewares (each with
 * its own checker and passive tracker), and one of them recovering must not clear the mark
 * another still holds. The counts live in a side table rather than on the counters, because
 * they change only when health changes and the per-target object keeps its small shape.
 */
import { countersOf, type TargetCounters } from '../balancer/target.js';
import { debug, healthChange } from '../observability/channels.js';
import type { ProxyTarget } from '../types.js';

/** Which health source holds a mark. */
export type HealthSource = 'active' | 'passive';

/** Down marks held on one target, by source. */
interface DownMarks {
  active: number;
  passive: number;
}

const marks = new WeakMap<TargetCounters, DownMarks>();

function marksOf(counters: TargetCounters): DownMarks {
  let m = marks.get(counters);
  if (m === undefined) {
    m = { active: 0, passive: 0 };
    marks.set(counters, m);
  }
  return m;
}

function derive(target: ProxyTarget, counters: TargetCounters, m: DownMarks, source: HealthSource): void {
  const healthy = m.active === 0 && m.passive === 0;
  if (healthy === counters.healthy) return;
  counters.healthy = healthy;
  if (healthChange.hasSubscribers) healthChange.publish({ target, healthy, source });
  if (debug.enabled) debug('health %s: %s (%s)', target.name, healthy ? 'up' : 'down', source);
}

/**
 * Marks `target` down on behalf of one source. Every call must be paired with one
 * {@link markUp} by the same holder (a checker or tracker marks a target down at most once).
 */
export function markDown(target: ProxyTarget, source: HealthSource): void {
  const counters = countersOf(target);
  const m = marksOf(counters);
  m[source]++;
  derive(target, counters, m, source);
}

/** Releases one mark taken with {@link markDown}; the target is healthy once no mark remains. */
export function markUp(target: ProxyTarget, source: HealthSource): void {
  const counters = countersOf(target);
  const m = marksOf(counters);
  if (m[source] > 0) m[source]--;
  derive(target, counters, m, source);
}

/** Down marks currently held on `target` by `source` (for tests and diagnostics). */
export function downMarks(target: ProxyTarget, source: HealthSource): number {
  return marks.get(countersOf(target))?.[source] ?? 0;
}

/**
 * Whether passive health is all that holds `target` down: marked by passive health and by no
 * active check (for passive health's panic mode, balancer/passive-panic.ts).
 */
export function isDownOnlyByPassive(target: ProxyTarget): boolean {
  const m = marks.get(countersOf(target));
  return m !== undefined && m.active === 0 && m.passive > 0;
}
