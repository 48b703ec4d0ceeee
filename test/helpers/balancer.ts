/**
 * Unit-test helpers for balancers: lettered target lists, picking by name, pick sequences,
 * counting, and a seeded random generator, so policy tests read as strings like `'abab'`.
 */
import type { IncomingMessage } from 'node:http';
import type { LiveBalancer } from '../../src/balancer/balancer.js';
import type { LiveTarget } from '../../src/balancer/target.js';
import type { Balancer, ProxyTarget, TargetObject } from '../../src/types.js';

/** A request no policy reads anything from (first, round robin, random, least_conn). */
export const anyRequest = {} as IncomingMessage;

/**
 * `n` targets named a, b, c… on ports 3001, 3002… of 127.0.0.1. With `weights`, target i gets
 * `weights[i]` (1 where the list is shorter); without, no weight is given at all.
 */
export function letteredTargets(n: number, weights?: readonly number[]): TargetObject[] {
  return Array.from({ length: n }, (_, i) => ({
    url: `http://127.0.0.1:${3001 + i}`,
    name: String.fromCharCode(97 + i),
    ...(weights === undefined ? {} : { weight: weights[i] ?? 1 }),
  }));
}

/** The live target named `name`; throws when there is none. */
export function byName(b: LiveBalancer, name: string): LiveTarget {
  const t = b.targets.find((x) => x.name === name);
  if (t === undefined) throw new Error(`no target ${name}`);
  return t;
}

/**
 * Names of `n` successive picks for `req`, concatenated; `-` when none is available. Without
 * `active` nothing is held: as if each request finished before the next.
 */
export function picks(b: Balancer, n: number, exclude?: ReadonlySet<ProxyTarget>, req: IncomingMessage = anyRequest): string {
  let out = '';
  for (let i = 0; i < n; i++) out += b.next(req, exclude)?.name ?? '-';
  return out;
}

/** How often each string occurs in `list`. */
export function countBy(list: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const x of list) counts[x] = (counts[x] ?? 0) + 1;
  return counts;
}

/** mulberry32: a tiny seeded generator, so proportions are the same on every run (stub `Math.random` with it). */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
