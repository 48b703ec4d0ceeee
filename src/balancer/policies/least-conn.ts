/**
 * Least connections: the candidate with the fewest requests in flight (`active`). With
 * weights it is the lowest `active / weight`, so a target of weight 2 is given twice the
 * in-flight requests of a target of weight 1 before it counts as busier (nginx `least_conn`).
 * Ties (an idle pool, say) are broken by smooth weighted round robin among the tied
 * targets, so equally loaded targets rotate instead of the first always winning.
 */
import type { Chooser } from '../balancer.js';
import type { LiveTarget } from '../target.js';

/** `a` carries less load per unit of weight than `b`. Cross-multiplied: no division, no rounding to a tie. */
function lighter(a: LiveTarget, b: LiveTarget): boolean {
  return a.active * b.weight < b.active * a.weight;
}

function sameLoad(a: LiveTarget, b: LiveTarget): boolean {
  return a.active * b.weight === b.active * a.weight;
}

/**
 * Creates a least-connections chooser. Its tie-break state is each target's `currentWeight`
 * (as round robin's), so it allocates nothing per pick.
 */
export function createLeastConn(): Chooser {
  return (candidates) => {
    let least: LiveTarget | undefined;
    for (let i = 0; i < candidates.length; i++) {
      const t = candidates[i] as LiveTarget;
      if (t.weight > 0 && (least === undefined || lighter(t, least))) least = t;
    }
    if (least === undefined) return undefined;
    // Smooth weighted round robin over the targets as light as `least` (nginx does the same).
    let total = 0;
    let best = least;
    let bestWeight = -Infinity;
    for (let i = 0; i < candidates.length; i++) {
      const t = candidates[i] as LiveTarget;
      if (t.weight <= 0 || !sameLoad(t, least)) continue;
      t.currentWeight += t.weight;
      total += t.weight;
      // Strictly greater: ties go to the earlier target, which gives the in-order rotation.
      if (t.currentWeight > bestWeight) {
        best = t;
        bestWeight = t.currentWeight;
      }
    }
    best.currentWeight -= total;
    return best;
  };
}
