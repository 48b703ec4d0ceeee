import { afterEach, describe, expect, it, vi } from 'vitest';
import { createBalancer, type Chooser, type LiveBalancer } from '../../src/balancer/balancer.js';
import { createFirst } from '../../src/balancer/policies/first.js';
import { createRandom } from '../../src/balancer/policies/random.js';
import { createRoundRobin } from '../../src/balancer/policies/round-robin.js';
import type { LiveTarget } from '../../src/balancer/target.js';
import type { ProxyTarget } from '../../src/types.js';
import { anyRequest as req, byName, letteredTargets, picks, seeded } from '../helpers/balancer.js';

/** Pool of targets named a, b, c… on distinct ports, with the given weights. */
function pool(chooser: Chooser, weights: number[]): LiveBalancer {
  return createBalancer(letteredTargets(weights.length, weights), chooser);
}

type Setup = (b: LiveBalancer) => ReadonlySet<ProxyTarget> | void;
const unhealthy = (name: string): Setup => (b) => { byName(b, name).healthy = false; };
const full = (name: string): Setup => (b) => {
  const t = byName(b, name);
  t.maxConns = 2;
  t.active = 2;
};
const excluding = (...names: string[]): Setup => (b) => new Set<ProxyTarget>(names.map((n) => byName(b, n)));

describe('round robin (smooth weighted)', () => {
  it.each<[string, number[], Setup | undefined, string]>([
    ['equal weights rotate in order', [1, 1, 1], undefined, 'abcabcabc'],
    ['equal weights of 3 rotate in order', [3, 3], undefined, 'abab'],
    ['5,1,1 as nginx: a a b a c a a', [5, 1, 1], undefined, 'aabacaa' + 'aabacaa'],
    ['2,1', [2, 1], undefined, 'aba' + 'aba'],
    ['a zero weight is never chosen', [1, 0, 1], undefined, 'acacac'],
    ['a single target', [4], undefined, 'aaa'],
    ['an unhealthy target is skipped', [1, 1, 1], unhealthy('b'), 'acacac'],
    ['a full target is skipped', [1, 1, 1], full('b'), 'acacac'],
    ['an excluded target is skipped', [1, 1, 1], excluding('a'), 'bcbcbc'],
    ['excluded and unhealthy together', [1, 1, 1], (b) => { unhealthy('c')(b); return excluding('a')(b); }, 'bbb'],
    ['nothing available gives undefined', [1, 1], (b) => { unhealthy('a')(b); return excluding('b')(b); }, '---'],
  ])('%s', (_label, weights, setup, want) => {
    const b = pool(createRoundRobin(), weights);
    const exclude = setup?.(b) ?? undefined;
    expect(picks(b, want.length, exclude)).toBe(want);
  });

  it('keeps its place while a target is down and resumes when it is back', () => {
    const b = pool(createRoundRobin(), [2, 1]);
    expect(picks(b, 1)).toBe('a');
    byName(b, 'b').healthy = false;
    expect(picks(b, 1)).toBe('a');
    byName(b, 'b').healthy = true;
    // b kept the running weight it had built up, so it is chosen first.
    expect(picks(b, 6)).toBe('baa' + 'baa');
  });

  it('gives a target added at run time its share from then on', () => {
    const b = pool(createRoundRobin(), [1, 1]);
    expect(picks(b, 2)).toBe('ab');
    b.add({ url: 'http://127.0.0.1:4000', name: 'c' });
    expect(picks(b, 6)).toBe('abcabc');
  });

  it('keeps rotating over the rest when a target is removed', () => {
    const b = pool(createRoundRobin(), [1, 1, 1]);
    expect(picks(b, 1)).toBe('a');
    b.remove('b');
    // c had built up b's share of running weight, so it goes twice once, then they alternate.
    expect(picks(b, 6)).toBe('ccacac');
  });

  it('skips a zero-weight candidate even when handed one directly', () => {
    const b = pool(createRoundRobin(), [0, 1]);
    const [zero, one] = b.targets as [LiveTarget, LiveTarget];
    expect(createRoundRobin()([zero, one], req)).toBe(one);
    expect(createRoundRobin()([zero], req)).toBeUndefined();
  });
});

describe('first', () => {
  it.each<[string, number[], Setup | undefined, string]>([
    ['always the first', [1, 1, 1], undefined, 'aaaa'],
    ['the next when the first is unhealthy', [1, 1, 1], unhealthy('a'), 'bbbb'],
    ['the next when the first is full', [1, 1, 1], full('a'), 'bbbb'],
    ['the third when the first two are tried', [1, 1, 1], excluding('a', 'b'), 'cccc'],
    ['a zero-weight first is skipped', [0, 1], undefined, 'bb'],
    ['undefined when none is available', [1], unhealthy('a'), '--'],
  ])('%s', (_label, weights, setup, want) => {
    const b = pool(createFirst(), weights);
    const exclude = setup?.(b) ?? undefined;
    expect(picks(b, want.length, exclude)).toBe(want);
  });

  it('fails back to the first as soon as it is healthy again', () => {
    const b = pool(createFirst(), [1, 1]);
    byName(b, 'a').healthy = false;
    expect(picks(b, 2)).toBe('bb');
    byName(b, 'a').healthy = true;
    expect(picks(b, 2)).toBe('aa');
  });
});

describe('random (weighted)', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each<[string, number[], Setup | undefined, Record<string, number>]>([
    ['equal weights', [1, 1, 1], undefined, { a: 1 / 3, b: 1 / 3, c: 1 / 3 }],
    ['weights 1,2,7', [1, 2, 7], undefined, { a: 0.1, b: 0.2, c: 0.7 }],
    ['weights 5,1,1', [5, 1, 1], undefined, { a: 5 / 7, b: 1 / 7, c: 1 / 7 }],
    ['a zero weight', [1, 0, 3], undefined, { a: 0.25, b: 0, c: 0.75 }],
    ['fractional weights', [0.5, 1.5], undefined, { a: 0.25, b: 0.75 }],
    ['an unhealthy target', [1, 1, 2], unhealthy('c'), { a: 0.5, b: 0.5, c: 0 }],
    ['an excluded target', [1, 1, 2], excluding('a'), { a: 0, b: 1 / 3, c: 2 / 3 }],
  ])('%s: proportions over 10,000 picks', (_label, weights, setup, want) => {
    vi.spyOn(Math, 'random').mockImplementation(seeded(42));
    const b = pool(createRandom(), weights);
    const exclude = setup?.(b) ?? undefined;
    const counts: Record<string, number> = Object.fromEntries(Object.keys(want).map((k) => [k, 0]));
    const n = 10_000;
    for (let i = 0; i < n; i++) {
      const name = b.next(req, exclude)?.name ?? '-';
      counts[name] = (counts[name] ?? 0) + 1;
    }
    for (const [name, share] of Object.entries(want)) {
      if (share === 0) expect(counts[name], name).toBe(0);
      else expect(Math.abs((counts[name] ?? 0) / n - share), name).toBeLessThan(0.02);
    }
  });

  it.each<[number, string]>([
    [0, 'a'],
    [0.2499, 'a'],
    [0.25, 'c'],
    [0.9999999999999999, 'c'],
  ])('maps Math.random() = %s to %s with weights 1,0,3', (value, want) => {
    vi.spyOn(Math, 'random').mockReturnValue(value);
    expect(pool(createRandom(), [1, 0, 3]).next(req)?.name).toBe(want);
  });

  it('never returns a zero-weight candidate, even handed one directly', () => {
    const b = pool(createRandom(), [0, 1]);
    const [zero, one] = b.targets as [LiveTarget, LiveTarget];
    vi.spyOn(Math, 'random').mockReturnValue(0);
    expect(createRandom()([zero, one], req)).toBe(one);
    expect(createRandom()([zero], req)).toBeUndefined();
  });

  it('returns undefined when none is available', () => {
    const b = pool(createRandom(), [1]);
    byName(b, 'a').healthy = false;
    expect(b.next(req)).toBeUndefined();
  });
});
