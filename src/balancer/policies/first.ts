/**
 * First available in list order (Itsi `ordered`): the first target takes all traffic and the
 * rest are failovers, used in order while those before them are unhealthy, full or tried.
 */
import type { Chooser } from '../balancer.js';

/** Creates the first-available chooser (stateless; candidates keep the list order). */
export function createFirst(): Chooser {
  return (candidates) => candidates[0];
}
