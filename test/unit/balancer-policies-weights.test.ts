/**
 * Weights over many picks: every weight-aware policy gives each target its share of 10,000
 * requests within two percentage points (random with a seeded Math.random stub).
 */
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createBalancer, type Chooser } from '../../src/balancer/balancer.js';
import { createCookieBalancer } from '../../src/balancer/policies/cookie.js';
import { createHeaderHash } from '../../src/balancer/policies/header-hash.js';
import { createIpHash } from '../../src/balancer/policies/ip-hash.js';
import { createLeastConn } from '../../src/balancer/policies/least-conn.js';
import { createRandom } from '../../src/balancer/policies/random.js';
import { createRoundRobin } from '../../src/balancer/policies/round-robin.js';
import type { LiveBalancer } from '../../src/balancer/balancer.js';
import { letteredTargets, seeded } from '../helpers/balancer.js';

const N = 10_000;

const inputs = (weights: number[]) => letteredTargets(weights.length, weights);

/** The i-th request: a distinct client address, and no header or cookie (so fallbacks round robin). */
function request(i: number): IncomingMessage {
  return { socket: { remoteAddress: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }, url: `/r/${i}`, headers: {} } as unknown as IncomingMessage;
}

type Make = (weights: number[]) => LiveBalancer;
const withChooser = (make: () => Chooser): Make => (weights) => createBalancer(inputs(weights), make());

const POLICIES: Array<[string, Make]> = [
  ['round robin', withChooser(createRoundRobin)],
  ['random', withChooser(createRandom)],
  ['least_conn (requests finish at once)', withChooser(createLeastConn)],
  ['ip_hash (10,000 clients)', withChooser(createIpHash)],
  ['headerHash without the header', withChooser(() => createHeaderHash('x-user'))],
  ['cookie without a cookie', (weights) => createCookieBalancer(inputs(weights), 'sid', undefined, 'targets')],
];

const WEIGHTS: Array<[number[], number[]]> = [
  [[1, 1, 1], [1 / 3, 1 / 3, 1 / 3]],
  [[5, 1, 1], [5 / 7, 1 / 7, 1 / 7]],
  [[1, 2, 7], [0.1, 0.2, 0.7]],
  [[3, 0, 1], [0.75, 0, 0.25]],
  [[0.5, 1.5], [0.25, 0.75]],
];

describe.each(POLICIES)('%s honours weights', (_policy, make) => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each(WEIGHTS)('weights %j over 10,000 picks', (weights, shares) => {
    vi.spyOn(Math, 'random').mockImplementation(seeded(7));
    const b = make(weights);
    const counts = new Map<string, number>();
    for (let i = 0; i < N; i++) {
      const name = b.next(request(i))?.name ?? '-';
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    shares.forEach((share, i) => {
      const name = String.fromCharCode(97 + i);
      const got = (counts.get(name) ?? 0) / N;
      if (share === 0) expect(got, name).toBe(0);
      else expect(Math.abs(got - share), `${name}: ${got} vs ${share}`).toBeLessThan(0.02);
    });
  });
});
