/** Turns `config.balancer` and `config.targets` into the one balancer a middleware uses. */
import type { Balancer, BalancerOption, TargetInput } from '../types.js';
import { createBalancer, type Chooser } from './balancer.js';
import { describeValue } from '../config/describe-value.js';
import { createFirst } from './policies/first.js';
import { createRandom } from './policies/random.js';
import { createRoundRobin } from './policies/round-robin.js';

/** Policy names and the chooser each one gets; adding a policy is adding a line. */
const CHOOSERS: Readonly<Record<string, () => Chooser>> = Object.freeze({
  round_robin: createRoundRobin,
  random: createRandom,
  first: createFirst,
});

/** Names from the contract whose policies are not built yet. */
const NOT_YET: ReadonlySet<string> = new Set(['least_conn', 'ip_hash', 'uri_hash']);

const EXPECTED =
  "'round_robin', 'random', 'first', 'least_conn', 'ip_hash', 'uri_hash', { header: 'X-Name' }, { cookie: 'name' } " +
  "or a Balancer instance such as roundRobin(['http://127.0.0.1:3001'])";

const INSTANCE_MEMBERS = ['targets', 'add', 'remove', 'next'] as const;

/** Members of the Balancer interface that `value` lacks (duck typing, see {@link resolveBalancer}). */
function missingMembers(value: object): string[] {
  const v = value as Record<string, unknown>;
  return INSTANCE_MEMBERS.filter((m) => (m === 'targets' ? !Array.isArray(v[m]) : typeof v[m] !== 'function'));
}

function isPolicyObject(value: object): boolean {
  const v = value as Record<string, unknown>;
  return typeof v['header'] === 'string' || typeof v['cookie'] === 'string';
}

/**
 * Resolves `config.balancer` (default `'round_robin'`) with `config.targets`:
 * - a policy name creates our balancer over `targets` (required; `[]` is allowed: requests
 *   get `NO_UPSTREAM` until targets are added with `balancer.add()`);
 * - a Balancer instance is used as is. It is recognised by shape (`targets` array, `add`,
 *   `remove`, `next`), not `instanceof`, so a user's own implementation and one from the
 *   other build (ESM vs CommonJS) both work.
 * @throws TypeError naming `balancer` or `targets` on any invalid combination.
 */
export function resolveBalancer(
  option: BalancerOption | undefined,
  targets: TargetInput | readonly TargetInput[] | undefined,
): Balancer {
  const policy: unknown = option === undefined ? 'round_robin' : option;
  if (typeof policy === 'string') {
    const chooser = Object.hasOwn(CHOOSERS, policy) ? CHOOSERS[policy] : undefined;
    if (chooser !== undefined) {
      if (targets === undefined) {
        throw new TypeError("switchyard: targets is required, e.g. targets: 'http://127.0.0.1:3001'");
      }
      const inputs: readonly TargetInput[] = Array.isArray(targets) ? targets : [targets as TargetInput];
      return createBalancer(inputs, chooser(), { option: 'targets' });
    }
    if (NOT_YET.has(policy)) throw new TypeError(`switchyard: balancer ${JSON.stringify(policy)} is not available yet`);
  } else if (typeof policy === 'object' && policy !== null && !Array.isArray(policy)) {
    const missing = missingMembers(policy);
    if (missing.length === 0) {
      if (targets !== undefined) {
        throw new TypeError(
          'switchyard: targets and a balancer instance cannot both be given; add targets to the balancer, ' +
            "e.g. balancer: roundRobin(['http://127.0.0.1:3001'])",
        );
      }
      return policy as Balancer;
    }
    if (isPolicyObject(policy)) {
      throw new TypeError(`switchyard: balancer ${describeValue(policy)} is not available yet`);
    }
    if (missing.length < INSTANCE_MEMBERS.length) {
      throw new TypeError(
        `switchyard: balancer looks like a Balancer instance but lacks ${missing.join(', ')}; ` +
          `a Balancer has a targets array and add(), remove() and next() methods`,
      );
    }
  }
  throw new TypeError(`switchyard: balancer must be one of ${EXPECTED}; received ${describeValue(policy)}`);
}
