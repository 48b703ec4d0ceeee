/**
 * Chooses the target of the next attempt: untried targets first, and a custom balancer's
 * choice checked against our health marks and `maxConns`, which it cannot see.
 */
import type { IncomingMessage } from 'node:http';
import { isUsableIgnoringPassive } from '../balancer/passive-panic.js';
import { countersOf, isAvailable, isLiveTarget } from '../balancer/target.js';
import { isThenable, syncCallbackError } from '../errors/sync-callback.js';
import type { Balancer, ProxyTarget } from '../types.js';

/**
 * Whether `t` may be sent to now. Our balancers only return such targets; a custom balancer
 * cannot see our health marks or `maxConns`, so its choice is checked here.
 * @throws TypeError naming `balancer.next` when it returned a Promise (an `async next`).
 */
function isUsable(t: ProxyTarget, maxConns: number): boolean {
  // Our balancers return a target held down by passive marks only in panic mode.
  if (isLiveTarget(t)) return isAvailable(t) || isUsableIgnoringPassive(t, maxConns);
  if (isThenable(t)) throw syncCallbackError('balancer.next', t, 'return a target of balancer.targets, or undefined');
  const c = countersOf(t);
  return t.healthy !== false && c.healthy && c.active < maxConns;
}

/** Asks again with `skipped` (unusable targets) excluded, still preferring untried targets. */
function askAgain(
  balancer: Balancer,
  req: IncomingMessage,
  tried: Set<ProxyTarget> | undefined,
  skipped: Set<ProxyTarget>,
): ProxyTarget | undefined {
  if (tried === undefined) return balancer.next(req, skipped);
  return balancer.next(req, new Set([...tried, ...skipped])) ?? balancer.next(req, skipped);
}

/** Prefers a target not tried yet; once every available one was tried, any available one. */
export function pickTarget(
  balancer: Balancer,
  req: IncomingMessage,
  tried: Set<ProxyTarget> | undefined,
  maxConns: number,
): ProxyTarget | undefined {
  let target = tried === undefined ? balancer.next(req) : balancer.next(req, tried) ?? balancer.next(req);
  if (target === undefined || isUsable(target, maxConns)) return target;
  // Exclude the unusable choice and ask again; the exclude set exists only on this rare path.
  // Bounded by the target count, and a target returned twice ends it (a balancer ignoring
  // `exclude` cannot loop us): NO_UPSTREAM then, as when every target is down or full
  // (unless passive marks alone held a choice back: see `panic`).
  const skipped = new Set<ProxyTarget>();
  const limit = balancer.targets.length;
  // Passive health's panic mode for a custom balancer, which cannot see our marks: its first
  // choice held back by passive marks alone is sent to when no choice is usable.
  let panic: ProxyTarget | undefined;
  do {
    if (panic === undefined && isUsableIgnoringPassive(target, maxConns)) panic = target;
    skipped.add(target);
    if (skipped.size > limit) return panic;
    target = askAgain(balancer, req, tried, skipped);
  } while (target !== undefined && !skipped.has(target) && !isUsable(target, maxConns));
  return target === undefined || skipped.has(target) ? panic : target;
}
