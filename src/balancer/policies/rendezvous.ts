/**
 * Rendezvous (highest random weight) hashing, shared by the hash policies: every candidate
 * gets a score from (key, target name) alone and the highest score wins. A key therefore
 * keeps its target as long as that target is a candidate, and when a target is removed, down
 * or full only the keys it held move (each to its own second choice); other keys never move.
 */
import type { IncomingMessage } from 'node:http';
import type { Chooser } from '../balancer.js';
import type { LiveTarget } from '../target.js';

/** murmur3's 32-bit finaliser: spreads every input bit over the output. */
export function fmix32(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A fast non-cryptographic 32-bit hash of a string: FNV-1a over its UTF-16 code units, then
 * {@link fmix32} (FNV alone lets keys differing only in their last character land close).
 * Not for anything an attacker must not predict.
 */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/**
 * Each target's name hash, computed on first use and kept for the target's lifetime (names
 * never change), so scoring a candidate is two multiplications and a log. A WeakMap rather
 * than a field keeps target.ts free of policy details; a removed target is collected.
 */
const seeds = new WeakMap<LiveTarget, number>();

function seedOf(t: LiveTarget): number {
  let seed = seeds.get(t);
  if (seed === undefined) {
    seed = hashString(t.name);
    seeds.set(t, seed);
  }
  return seed;
}

const TWO_32 = 4294967296;

/**
 * The score of `t` for a key hashing to `keyHash`: `-weight / ln(u)`, with `u` in (0, 1)
 * derived from key and target. This is the standard weighted rendezvous score: a target's
 * chance of the highest score is weight / total weight, and with equal weights it orders
 * targets exactly as the raw hash does.
 */
export function rendezvousScore(keyHash: number, t: LiveTarget): number {
  const u = (fmix32(keyHash ^ seedOf(t)) + 0.5) / TWO_32;
  return -t.weight / Math.log(u);
}

/** The candidate with the highest score for `key` (the earlier one on an exact tie). */
export function pickByKey(candidates: readonly LiveTarget[], key: string): LiveTarget | undefined {
  const keyHash = hashString(key);
  let best: LiveTarget | undefined;
  let bestScore = -Infinity;
  for (let i = 0; i < candidates.length; i++) {
    const t = candidates[i] as LiveTarget;
    if (t.weight <= 0) continue;
    const score = rendezvousScore(keyHash, t);
    if (score > bestScore) {
      best = t;
      bestScore = score;
    }
  }
  return best;
}

/** Reads a request's hash key; `undefined` means "no key": the fallback chooses. */
export type KeyOf = (req: IncomingMessage) => string | undefined;

/**
 * Creates a rendezvous-hashing chooser keyed by `keyOf`. When `keyOf` gives `undefined`,
 * `fallback` chooses (none given: nothing is chosen).
 */
export function createRendezvous(keyOf: KeyOf, fallback?: Chooser): Chooser {
  return (candidates, req) => {
    const key = keyOf(req);
    if (key === undefined) return fallback?.(candidates, req);
    return pickByKey(candidates, key);
  };
}
