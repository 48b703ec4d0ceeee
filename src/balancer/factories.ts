/**
 * The balancing policies, in one registry: {@link POLICIES} maps each config name
 * (`balancer: 'least_conn'`) to its chooser and to the public factory (`leastConn([...])`)
 * made from the same entry. A new policy is a new file in `policies/`, a line in the table
 * and its factory below; `resolve-balancer.ts` reads the names from here.
 */
import type { Balancer, BalancerPolicyName, CookiePolicy, TargetInput } from '../types.js';
import { createBalancer, type Chooser } from './balancer.js';
import { checkCookieName, checkHeaderName, checkKeys, checkSecret } from './policy-args.js';
import { createCookieBalancer } from './policies/cookie.js';
import { createFirst } from './policies/first.js';
import { createHeaderHash } from './policies/header-hash.js';
import { createIpHash } from './policies/ip-hash.js';
import { createLeastConn } from './policies/least-conn.js';
import { createRandom } from './policies/random.js';
import { createRoundRobin } from './policies/round-robin.js';
import { createUriHash } from './policies/uri-hash.js';

/** One policy selectable by name: its chooser and the name of its public factory. */
interface NamedPolicy {
  readonly createChooser: () => Chooser;
  readonly factory: string;
}

/**
 * Config name → policy: the one list of policy names (`{ header }` and `{ cookie }` take
 * arguments, so they have no name). `satisfies` keeps it equal to the public `BalancerPolicyName`.
 */
export const POLICIES = Object.freeze({
  round_robin: { createChooser: createRoundRobin, factory: 'roundRobin' },
  random: { createChooser: createRandom, factory: 'random' },
  first: { createChooser: createFirst, factory: 'first' },
  least_conn: { createChooser: createLeastConn, factory: 'leastConn' },
  ip_hash: { createChooser: createIpHash, factory: 'ipHash' },
  uri_hash: { createChooser: createUriHash, factory: 'uriHash' },
} satisfies Record<BalancerPolicyName, NamedPolicy>);

/** Whether `name` is one of {@link POLICIES} (own keys only: `'toString'` is not a policy). */
export function isPolicyName(name: string): name is BalancerPolicyName {
  return Object.hasOwn(POLICIES, name);
}

/**
 * A balancer of the named policy over `targets`.
 * @param option the option named in validation errors. @default `'<factory>() targets'`
 */
export function createNamedBalancer(name: BalancerPolicyName, targets: readonly TargetInput[], option?: string): Balancer {
  const policy: NamedPolicy = POLICIES[name];
  return createBalancer(targets, policy.createChooser(), { option: option ?? `${policy.factory}() targets` });
}

/**
 * Smooth weighted round robin (nginx): weights 5,1,1 give `a a b a c a a`; a zero-weight
 * target is never chosen.
 * @throws ConfigError on an invalid target, a duplicate name, or when all weights are 0.
 */
export function roundRobin(targets: readonly TargetInput[]): Balancer {
  return createNamedBalancer('round_robin', targets);
}

/**
 * Weighted random: each available target is chosen with probability weight / total weight.
 * @throws ConfigError on an invalid target, a duplicate name, or when all weights are 0.
 */
export function random(targets: readonly TargetInput[]): Balancer {
  return createNamedBalancer('random', targets);
}

/**
 * Always the first available target in list order (Itsi `ordered`); the rest are failovers.
 * @throws ConfigError on an invalid target, a duplicate name, or when all weights are 0.
 */
export function first(targets: readonly TargetInput[]): Balancer {
  return createNamedBalancer('first', targets);
}

/**
 * Least connections: the available target with the fewest requests in flight; with weights,
 * the lowest in-flight count / weight. Equally loaded targets take turns (weighted round robin).
 * @throws ConfigError on an invalid target, a duplicate name, or when all weights are 0.
 */
export function leastConn(targets: readonly TargetInput[]): Balancer {
  return createNamedBalancer('least_conn', targets);
}

/**
 * Client IP hash (rendezvous): a client address keeps its target while it is available.
 * Keys on the socket's peer address, not on `X-Forwarded-For`. Weights are honoured.
 * @throws ConfigError on an invalid target, a duplicate name, or when all weights are 0.
 */
export function ipHash(targets: readonly TargetInput[]): Balancer {
  return createNamedBalancer('ip_hash', targets);
}

/**
 * URI hash (rendezvous) on `req.url` as the middleware sees it (path and query, mount path
 * stripped, before rewrite): a URL keeps its target while it is available. Weights are honoured.
 * @throws ConfigError on an invalid target, a duplicate name, or when all weights are 0.
 */
export function uriHash(targets: readonly TargetInput[]): Balancer {
  return createNamedBalancer('uri_hash', targets);
}

/**
 * Header hash (rendezvous) on the value of header `name`: a value keeps its target while it
 * is available. Without the header (or with it empty) the request is balanced round robin.
 * @throws ConfigError when `name` is not a header name, on an invalid target, a duplicate
 * name, or when all weights are 0.
 */
export function headerHash(name: string, targets: readonly TargetInput[]): Balancer {
  const header = checkHeaderName(name, 'headerHash() name', "headerHash('X-User', ['http://127.0.0.1:3001'])");
  return createBalancer(targets, createHeaderHash(header), { option: 'headerHash() targets' });
}

/**
 * Sticky sessions on cookie `name`. Without a valid cookie the request is balanced round
 * robin and the response sets `<name>=<id>; Path=/; HttpOnly; SameSite=Lax`; with one it goes
 * back to the same target while that target is available. The id is a hash of the target's
 * name (an HMAC with `opts.secret` when given), never its URL.
 * @param opts.secret key for the id's HMAC-SHA256. @default none (a plain SHA-256 of the name)
 * @throws ConfigError when `name` is not a cookie name, `opts` is not `{ secret? }`, on an
 * invalid target, a duplicate name, or when all weights are 0.
 */
export function cookie(name: string, targets: readonly TargetInput[], opts: Pick<CookiePolicy, 'secret'> = {}): Balancer {
  const example = "cookie('sticky', ['http://127.0.0.1:3001'], { secret: process.env.STICKY_SECRET })";
  const cookieName = checkCookieName(name, 'cookie() name', example);
  const options = checkKeys(opts, ['secret'], 'cookie() options', example);
  const secret = checkSecret(options['secret'], 'cookie() options.secret', example);
  return createCookieBalancer(targets, cookieName, secret, 'cookie() targets');
}
