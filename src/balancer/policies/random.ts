/** Weighted random: each candidate is chosen with probability weight / total weight. */
import type { Chooser } from '../balancer.js';
import type { LiveTarget } from '../target.js';

/**
 * Creates a weighted random chooser. Reads `Math.random` on every call (not captured once), so
 * tests can stub it. A zero-weight target is never chosen.
 */
export function createRandom(): Chooser {
  return (candidates) => {
    let total = 0;
    for (let i = 0; i < candidates.length; i++) total += Math.max((candidates[i] as LiveTarget).weight, 0);
    if (total <= 0) return undefined;
    let point = Math.random() * total;
    let last: LiveTarget | undefined;
    for (let i = 0; i < candidates.length; i++) {
      const t = candidates[i] as LiveTarget;
      if (t.weight <= 0) continue;
      if (point < t.weight) return t;
      point -= t.weight;
      last = t;
    }
    // Floating-point rounding can leave `point` a hair above the last share: that share is the answer.
    return last;
  };
}
