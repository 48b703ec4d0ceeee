/**
 * Smooth weighted round robin, as nginx does it (ngx_http_upstream_get_peer): each pick adds
 * every candidate's weight to its running `currentWeight`, takes the largest, and subtracts the
 * total from the winner. Weights 5,1,1 give `a a b a c a a` (spread out, unlike plain weighted
 * round robin's `a a a a a b c`); equal weights rotate in list order.
 */
import type { Chooser } from '../balancer.js';
import type { LiveTarget } from '../target.js';

/**
 * Creates a smooth weighted round-robin chooser. Its state is each target's `currentWeight`,
 * so a target that is unavailable for a while (and so not a candidate) keeps its place and
 * resumes where it was, and added targets start at 0 without the chooser being told.
 */
export function createRoundRobin(): Chooser {
  return (candidates) => {
    let total = 0;
    let best: LiveTarget | undefined;
    for (let i = 0; i < candidates.length; i++) {
      const t = candidates[i] as LiveTarget;
      // Never chosen, and kept out of the total so it takes no share from the others.
      if (t.weight <= 0) continue;
      t.currentWeight += t.weight;
      total += t.weight;
      // Strictly greater: ties go to the earlier target, which gives the in-order rotation.
      if (best === undefined || t.currentWeight > best.currentWeight) best = t;
    }
    if (best !== undefined) best.currentWeight -= total;
    return best;
  };
}
