/**
 * Passive health's panic mode (issue 12): when passive marks would leave no target
 * available, a balancer routes as if passive health were off; active checks, `maxConns`,
 * zero weights and (while another target is available) a retry's exclusions still apply.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createBalancer } from '../../src/balancer/balancer.js';
import { createRoundRobin } from '../../src/balancer/policies/round-robin.js';
import type { LiveTarget } from '../../src/balancer/target.js';
import { targetStats } from '../../src/balancer/target.js';
import { markDown } from '../../src/health/target-health.js';
import { pickTarget } from '../../src/retry/pick-target.js';
import type { Balancer, ProxyTarget } from '../../src/types.js';

const req = {} as IncomingMessage;

/** Round robin over a, b, c; `setup` marks them. */
function balancerWith(setup: (a: LiveTarget, b: LiveTarget, c: LiveTarget) => void) {
  const b = createBalancer(['http://a:1', 'http://b:1', 'http://c:1'], createRoundRobin());
  const [ta, tb, tc] = b.targets as [LiveTarget, LiveTarget, LiveTarget];
  setup(ta, tb, tc);
  return b;
}

function picks(b: { next(r: IncomingMessage, e?: ReadonlySet<ProxyTarget>): ProxyTarget | undefined }, n: number, exclude?: ReadonlySet<ProxyTarget>): string {
  let out = '';
  for (let i = 0; i < n; i++) out += b.next(req, exclude)?.name.charAt(0) ?? '-';
  return out;
}

describe('passive health must not take every target down (panic mode)', () => {
  it('a target held down by passive marks is not chosen while another is available', () => {
    const b = balancerWith((a) => markDown(a, 'passive'));
    expect(picks(b, 4)).toBe('bcbc');
  });

  it('every target passively down: round robin over all of them, stats() still unhealthy', () => {
    const b = balancerWith((a, bb, c) => [a, bb, c].forEach((t) => markDown(t, 'passive')));
    expect(picks(b, 6)).toBe('abcabc');
    expect(b.targets.map((t) => targetStats(t).healthy)).toEqual([false, false, false]);
  });

  it('active checks still apply: an actively failing target is never chosen in panic mode', () => {
    const b = balancerWith((a, bb, c) => {
      [a, bb, c].forEach((t) => markDown(t, 'passive'));
      markDown(bb, 'active');
    });
    expect(picks(b, 4)).toBe('acac');
  });

  it('every target actively down: NO target, panic mode is for passive marks only', () => {
    const b = balancerWith((a, bb, c) => [a, bb, c].forEach((t) => markDown(t, 'active')));
    expect(picks(b, 2)).toBe('--');
  });

  it('maxConns and zero weights still apply in panic mode', () => {
    const b = balancerWith((a, bb, c) => {
      [a, bb, c].forEach((t) => markDown(t, 'passive'));
      a.maxConns = 1;
      a.active = 1;
    });
    expect(picks(b, 4)).toBe('bcbc');
    const weighted = createBalancer([{ url: 'http://a:1', weight: 0 }, 'http://b:1'], createRoundRobin());
    weighted.targets.forEach((t) => markDown(t, 'passive'));
    expect(picks(weighted, 2)).toBe('bb');
  });

  it('a retry prefers an available target it already tried over a passively-down one', () => {
    let a!: LiveTarget;
    const b = balancerWith((ta, tb, tc) => {
      a = ta;
      markDown(tb, 'passive');
      markDown(tc, 'passive');
    });
    // With exclusion alone nothing is left, but `a` is available: no panic for this call ...
    expect(b.next(req, new Set([a]))).toBeUndefined();
    // ... and target picking then goes back to `a`.
    expect(pickTarget(b, req, new Set([a]), Infinity)).toBe(a);
  });

  it('a retry in panic mode skips the targets it tried', () => {
    let a!: LiveTarget;
    const b = balancerWith((ta, tb, tc) => {
      a = ta;
      [ta, tb, tc].forEach((t) => markDown(t, 'passive'));
    });
    expect(picks(b, 4, new Set([a]))).toBe('bcbc');
  });

  it('a custom balancer whose every choice is passively down gets its first choice', () => {
    const targets: ProxyTarget[] = ['x', 'y'].map((name) => ({
      url: new URL(`http://${name}:1`), name, weight: 1, meta: {}, healthy: true, active: 0,
    }));
    const custom: Balancer = {
      targets,
      add: () => { throw new Error('unused'); },
      remove: () => false,
      next: (_r, exclude) => targets.find((t) => exclude?.has(t) !== true),
    };
    targets.forEach((t) => markDown(t, 'passive'));
    expect(pickTarget(custom, req, undefined, Infinity)).toBe(targets[0]);
    markDown(targets[0]!, 'active');
    expect(pickTarget(custom, req, undefined, Infinity)).toBe(targets[1]);
    markDown(targets[1]!, 'active');
    expect(pickTarget(custom, req, undefined, Infinity)).toBeUndefined();
  });
});
