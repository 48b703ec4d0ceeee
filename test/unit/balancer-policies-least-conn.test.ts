import { describe, expect, it } from 'vitest';
import { createBalancer, type LiveBalancer } from '../../src/balancer/balancer.js';
import { createLeastConn } from '../../src/balancer/policies/least-conn.js';
import type { LiveTarget } from '../../src/balancer/target.js';
import type { ProxyTarget } from '../../src/types.js';
import { anyRequest as req, byName, letteredTargets, picks } from '../helpers/balancer.js';

/** Targets a, b, c… with the given weights and in-flight counts. */
function pool(weights: number[], active: number[] = []): LiveBalancer {
  const b = createBalancer(letteredTargets(weights.length, weights), createLeastConn());
  b.targets.forEach((t, i) => {
    t.active = active[i] ?? 0;
  });
  return b;
}

/** `n` picks where every chosen request stays in flight (its target's `active` goes up). */
function held(b: LiveBalancer, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) {
    const t = b.next(req);
    if (t !== undefined) t.active++;
    out += t?.name ?? '-';
  }
  return out;
}

describe('least_conn', () => {
  it.each<[string, number[], number[], ((b: LiveBalancer) => ReadonlySet<ProxyTarget> | void) | undefined, string]>([
    ['idle equal targets rotate in order', [1, 1, 1], [0, 0, 0], undefined, 'abcabc'],
    ['the one idle target takes every request', [1, 1, 1], [2, 0, 1], undefined, 'bbbb'],
    ['ties among the least loaded rotate', [1, 1, 1], [1, 0, 0], undefined, 'bcbcbc'],
    ['a single target', [1], [5], undefined, 'aaa'],
    ['a zero weight is never chosen, even idle', [0, 1], [0, 3], undefined, 'bbb'],
    ['weights: lowest active / weight (2/2 < 2/1)', [2, 1], [2, 2], undefined, 'aaa'],
    ['weights: equal ratios share by weight (2/2 = 1/1)', [2, 1], [2, 1], undefined, 'aba' + 'aba'],
    ['weights: idle targets share by weight', [5, 1, 1], [0, 0, 0], undefined, 'aabacaa'],
    ['an unhealthy target is skipped', [1, 1, 1], [0, 0, 0], (b) => { byName(b, 'a').healthy = false; }, 'bcbc'],
    [
      'a full target is skipped even when it is the least loaded of the rest',
      [1, 1], [1, 3],
      (b) => { byName(b, 'a').maxConns = 1; },
      'bbb',
    ],
    ['an excluded target is skipped', [1, 1, 1], [0, 1, 2], (b) => new Set<ProxyTarget>([byName(b, 'a')]), 'bbb'],
    ['nothing available gives undefined', [1], [0], (b) => { byName(b, 'a').healthy = false; }, '--'],
  ])('%s', (_label, weights, active, setup, want) => {
    const b = pool(weights, active);
    const exclude = setup?.(b) ?? undefined;
    expect(picks(b, want.length, exclude)).toBe(want);
  });

  it('follows active counts as requests start and finish', () => {
    const b = pool([1, 1, 1]);
    // Each held request raises its target's count, so the pool fills evenly: every target
    // once per round (the tie-break's running weights decide the order within a round).
    expect(held(b, 3)).toBe('abc');
    expect(held(b, 3)).toBe('cba');
    expect(b.targets.map((t) => t.active)).toEqual([2, 2, 2]);
    // b finishes both its requests: it is now the least loaded, twice over.
    byName(b, 'b').active -= 2;
    expect(held(b, 2)).toBe('bb');
    // c finishes one: c alone is the lightest.
    byName(b, 'c').active -= 1;
    expect(held(b, 1)).toBe('c');
    expect(b.targets.map((t) => t.active)).toEqual([2, 2, 2]);
  });

  it('fills weighted targets in proportion to their weights', () => {
    const b = pool([3, 1]);
    const out = held(b, 8);
    expect([...out].filter((c) => c === 'a').length).toBe(6);
    expect(b.targets.map((t) => t.active)).toEqual([6, 2]);
  });

  it('gives a target added at run time the next requests (it is idle)', () => {
    const b = pool([1, 1], [3, 3]);
    b.add({ url: 'http://127.0.0.1:4000', name: 'c' });
    expect(held(b, 3)).toBe('ccc');
    expect(held(b, 3)).toBe('abc');
  });

  it('skips a zero-weight candidate even when handed one directly', () => {
    const b = pool([0, 1], [0, 9]);
    const [zero, one] = b.targets as [LiveTarget, LiveTarget];
    expect(createLeastConn()([zero, one], req)).toBe(one);
    expect(createLeastConn()([zero], req)).toBeUndefined();
  });
});
