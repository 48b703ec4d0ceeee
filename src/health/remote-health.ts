/**
 * Health decided elsewhere: the CLI's cluster primary runs the active checks once for all its
 * workers, and each worker's proxy routes on the primary's verdicts. This applies a verdict —
 * the names of the targets that are down — as `active` marks on a balancer's targets, so a
 * worker's passive health and `maxConns` keep working on top. Internal: not exported from
 * the package.
 */
import type { Balancer, ProxyTarget } from '../types.js';
import { markDown, markUp } from './target-health.js';

/** Applies remote verdicts to one balancer. */
export interface RemoteHealth {
  /**
   * Marks down exactly the targets named in `down` (by `name`) and releases the marks on the
   * others. Targets added to the balancer since the last call are covered too.
   */
  apply(down: ReadonlySet<string>): void;
  /** Releases every mark this holds. */
  release(): void;
}

/** Starts with every target healthy (no marks); `apply` sets the verdict. */
export function followRemoteHealth(balancer: Balancer): RemoteHealth {
  // The targets this holds an `active` mark on (one each, paired with one markUp).
  const held = new Set<ProxyTarget>();
  return {
    apply(down) {
      const targets = new Set(balancer.targets);
      for (const target of held) {
        if (!targets.has(target) || !down.has(target.name)) {
          held.delete(target);
          markUp(target, 'active');
        }
      }
      for (const target of targets) {
        if (down.has(target.name) && !held.has(target)) {
          held.add(target);
          markDown(target, 'active');
        }
      }
    },
    release() {
      for (const target of held) markUp(target, 'active');
      held.clear();
    },
  };
}
