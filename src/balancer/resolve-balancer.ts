/** Turns `config.balancer` and `config.targets` into the one balancer a middleware uses. */
import type { Balancer, BalancerOption, TargetInput } from '../types.js';
import { describeValue } from '../config/describe-value.js';
import { DEFAULTS } from '../config/defaults.js';
import { configError } from '../config/validate.js';
import { createBalancer } from './balancer.js';
import { createNamedBalancer, isPolicyName, POLICIES } from './factories.js';
import { checkCookieName, checkHeaderName, checkKeys, checkSecret } from './policy-args.js';
import { createCookieBalancer } from './policies/cookie.js';
import { createHeaderHash } from './policies/header-hash.js';

const HEADER_EXAMPLE = "{ header: 'X-User' }";
const COOKIE_EXAMPLE = "{ cookie: 'sticky', secret: process.env.STICKY_SECRET }";

const EXPECTED = `one of ${Object.keys(POLICIES).map((name) => `'${name}'`).join(', ')}, { header: 'X-Name' }, { cookie: 'name' } or a Balancer instance`;

const INSTANCE_MEMBERS = ['targets', 'add', 'remove', 'next'] as const;

/** Members of the Balancer interface that `value` lacks (duck typing, see {@link resolveBalancer}). */
function missingMembers(value: object): string[] {
  const v = value as Record<string, unknown>;
  return INSTANCE_MEMBERS.filter((m) => (m === 'targets' ? !Array.isArray(v[m]) : typeof v[m] !== 'function'));
}

function isPolicyObject(value: object): boolean {
  return Object.hasOwn(value, 'header') || Object.hasOwn(value, 'cookie');
}

function requireTargets(targets: TargetInput | readonly TargetInput[] | undefined): readonly TargetInput[] {
  if (targets === undefined) {
    throw configError('targets', 'is required', "targets: 'http://127.0.0.1:3001'");
  }
  return Array.isArray(targets) ? targets : [targets as TargetInput];
}

/** `{ header: 'X-Name' }` or `{ cookie: 'name', secret? }` over `targets`. */
function fromPolicyObject(policy: object, targets: TargetInput | readonly TargetInput[] | undefined): Balancer {
  if (Object.hasOwn(policy, 'header')) {
    const v = checkKeys(policy, ['header'], 'balancer', HEADER_EXAMPLE);
    const header = checkHeaderName(v['header'], 'balancer.header', HEADER_EXAMPLE);
    return createBalancer(requireTargets(targets), createHeaderHash(header), { option: 'targets' });
  }
  const v = checkKeys(policy, ['cookie', 'secret'], 'balancer', COOKIE_EXAMPLE);
  const name = checkCookieName(v['cookie'], 'balancer.cookie', COOKIE_EXAMPLE);
  const secret = checkSecret(v['secret'], 'balancer.secret', COOKIE_EXAMPLE);
  return createCookieBalancer(requireTargets(targets), name, secret, 'targets');
}

/**
 * Resolves `config.balancer` (default `'round_robin'`) with `config.targets`:
 * - a policy name, `{ header }` or `{ cookie, secret? }` creates our balancer over `targets`
 *   (required; `[]` is allowed: requests get `NO_UPSTREAM` until targets are added with
 *   `balancer.add()`);
 * - a Balancer instance is used as is. It is recognised by shape (`targets` array, `add`,
 *   `remove`, `next`), not `instanceof`, so a user's own implementation and one from the
 *   other build (ESM vs CommonJS) both work.
 * @throws ConfigError naming `balancer` or `targets` on any invalid combination.
 */
export function resolveBalancer(
  option: BalancerOption | undefined,
  targets: TargetInput | readonly TargetInput[] | undefined,
): Balancer {
  // Not `??`: `balancer: null` is a mistake to report, not a request for the default.
  const policy: unknown = option === undefined ? DEFAULTS.balancer : option;
  if (typeof policy === 'string') {
    if (isPolicyName(policy)) return createNamedBalancer(policy, requireTargets(targets), 'targets');
  } else if (typeof policy === 'object' && policy !== null && !Array.isArray(policy)) {
    const missing = missingMembers(policy);
    if (missing.length === 0) {
      if (targets !== undefined) {
        throw configError(
          'targets',
          'cannot be given with a balancer instance; add the targets to the balancer',
          "balancer: roundRobin(['http://127.0.0.1:3001'])",
        );
      }
      return policy as Balancer;
    }
    if (isPolicyObject(policy)) return fromPolicyObject(policy, targets);
    if (missing.length < INSTANCE_MEMBERS.length) {
      throw configError(
        'balancer',
        `looks like a Balancer instance but lacks ${missing.join(', ')}; a Balancer has a targets array and add(), remove() and next() methods`,
      );
    }
  }
  throw configError('balancer', `must be ${EXPECTED}, got ${describeValue(policy)}`, "balancer: 'least_conn'");
}
