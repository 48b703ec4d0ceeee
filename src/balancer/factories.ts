/**
 * The public balancer factories. Each is one line: the shared mechanics of
 * {@link createBalancer} plus a policy's chooser. A new policy is a new file in `policies/`
 * and a new line here.
 */
import type { Balancer, TargetInput } from '../types.js';
import { createBalancer } from './balancer.js';
import { createFirst } from './policies/first.js';
import { createRandom } from './policies/random.js';
import { createRoundRobin } from './policies/round-robin.js';

/**
 * Smooth weighted round robin (nginx): weights 5,1,1 give `a a b a c a a`; a zero-weight
 * target is never chosen.
 * @throws TypeError on an invalid target, a duplicate name, or when all weights are 0.
 */
export function roundRobin(targets: readonly TargetInput[]): Balancer {
  return createBalancer(targets, createRoundRobin(), { option: 'roundRobin() targets' });
}

/**
 * Weighted random: each available target is chosen with probability weight / total weight.
 * @throws TypeError on an invalid target, a duplicate name, or when all weights are 0.
 */
export function random(targets: readonly TargetInput[]): Balancer {
  return createBalancer(targets, createRandom(), { option: 'random() targets' });
}

/**
 * Always the first available target in list order (Itsi `ordered`); the rest are failovers.
 * @throws TypeError on an invalid target, a duplicate name, or when all weights are 0.
 */
export function first(targets: readonly TargetInput[]): Balancer {
  return createBalancer(targets, createFirst(), { option: 'first() targets' });
}
