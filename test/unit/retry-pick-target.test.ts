/**
 * pickTarget: which target the next attempt goes to. Untried targets first; once every
 * available one was tried, any available one; a custom balancer's choice is checked against
 * our health marks and maxConns (which it cannot see), and asked again without it.
 */
import { describe, expect, it } from 'vitest';
import type { LiveBalancer } from '../../src/balancer/balancer.js';
import { first } from '../../src/balancer/factories.js';
import { countersOf } from '../../src/balancer/target.js';
import { pickTarget } from '../../src/retry/pick-target.js';
import type { Balancer, ProxyTarget } from '../../src/types.js';
import { anyRequest, byName, letteredTargets } from '../helpers/balancer.js';

/** Targets named by letters: 'ab' → the set {a, b}. */
function named(targets: readonly ProxyTarget[], letters: string): Set<ProxyTarget> {
  return new Set(targets.filter((t) => letters.includes(t.name)));
}

/** The name picked, or '-' for none. */
function nameOf(t: ProxyTarget | undefined): string {
  return t?.name ?? '-';
}

describe('pickTarget with our balancer (first over a, b, c)', () => {
  // tried: letters of targets already tried ('' = first attempt; undefined = no retries configured).
  // down: targets marked unhealthy; full: targets at maxConns (1 in flight, maxConns 1).
  const cases: { case: string; tried: string | undefined; down?: string; full?: string; picks: string }[] = [
    { case: 'first attempt', tried: undefined, picks: 'a' },
    { case: 'first attempt, nothing tried yet', tried: '', picks: 'a' },
    { case: 'a tried: the next untried target', tried: 'a', picks: 'b' },
    { case: 'a and b tried', tried: 'ab', picks: 'c' },
    { case: 'all tried: any available one again', tried: 'abc', picks: 'a' },
    { case: 'a down', tried: undefined, down: 'a', picks: 'b' },
    { case: 'a down, b tried', tried: 'b', down: 'a', picks: 'c' },
    { case: 'a down, all tried: an available one again', tried: 'abc', down: 'a', picks: 'b' },
    { case: 'every target down', tried: undefined, down: 'abc', picks: '-' },
    { case: 'a tried, b full', tried: 'a', full: 'b', picks: 'c' },
    { case: 'a full, b and c down', tried: undefined, down: 'bc', full: 'a', picks: '-' },
  ];

  it.each(cases)('$case → $picks', ({ tried, down = '', full = '', picks }) => {
    const b = first(letteredTargets(3)) as LiveBalancer;
    for (const letter of down) byName(b, letter).healthy = false;
    for (const t of b.targets) t.maxConns = 1;
    for (const letter of full) byName(b, letter).active = 1;
    const triedSet = tried === undefined ? undefined : named(b.targets, tried);
    expect(nameOf(pickTarget(b, anyRequest, triedSet, 1))).toBe(picks);
  });
});

describe('pickTarget with a custom balancer (which cannot see our health marks or maxConns)', () => {
  function foreign(name: string, healthy = true): ProxyTarget {
    return { url: new URL(`http://127.0.0.1:300${name.charCodeAt(0) - 96}`), name, weight: 1, meta: {}, healthy, active: 0 };
  }
  /** Returns the first target in list order that is not excluded, healthy or not. */
  function inOrder(targets: ProxyTarget[]): Balancer {
    return {
      targets,
      add: () => {
        throw new Error('fixed');
      },
      remove: () => false,
      next: (_req, exclude) => targets.find((t) => !exclude?.has(t)),
    };
  }
  /** Ignores `exclude`: always the first target. */
  function stubborn(targets: ProxyTarget[]): Balancer {
    return { ...inOrder(targets), next: () => targets[0] };
  }

  // ownDown: the target's own `healthy: false`; ourDown: our counters mark it down (passive
  // or active health); busy: our counters hold `maxConns` (2) requests in flight.
  const cases: {
    case: string;
    balancer: (t: ProxyTarget[]) => Balancer;
    tried?: string;
    ownDown?: string;
    ourDown?: string;
    busy?: string;
    picks: string;
  }[] = [
    { case: 'a usable choice is taken as it is', balancer: inOrder, picks: 'a' },
    { case: 'a tried: its next choice', balancer: inOrder, tried: 'a', picks: 'b' },
    { case: 'its choice says healthy: false: asked again without it', balancer: inOrder, ownDown: 'a', picks: 'b' },
    { case: 'its choice is marked down by us: asked again without it', balancer: inOrder, ourDown: 'a', picks: 'b' },
    { case: 'its choice is at maxConns: asked again without it', balancer: inOrder, busy: 'a', picks: 'b' },
    { case: 'a tried, b down by us: c, still preferring untried', balancer: inOrder, tried: 'a', ourDown: 'b', picks: 'c' },
    { case: 'all tried, a down: an available one again', balancer: inOrder, tried: 'abc', ourDown: 'a', picks: 'b' },
    { case: 'every choice unusable', balancer: inOrder, ownDown: 'a', ourDown: 'b', busy: 'c', picks: '-' },
    { case: 'a balancer ignoring exclude cannot loop us: none', balancer: stubborn, ourDown: 'a', picks: '-' },
    { case: 'a balancer ignoring exclude, its choice usable', balancer: stubborn, tried: 'a', picks: 'a' },
  ];

  it.each(cases)('$case → $picks', ({ balancer, tried, ownDown = '', ourDown = '', busy = '', picks }) => {
    const targets = ['a', 'b', 'c'].map((n) => foreign(n, !ownDown.includes(n)));
    for (const t of targets) {
      countersOf(t).healthy = !ourDown.includes(t.name);
      countersOf(t).active = busy.includes(t.name) ? 2 : 0;
    }
    const b = balancer(targets);
    const triedSet = tried === undefined ? undefined : named(targets, tried);
    expect(nameOf(pickTarget(b, anyRequest, triedSet, 2))).toBe(picks);
  });
});
