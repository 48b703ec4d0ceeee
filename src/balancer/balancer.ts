/**
 * The balancer mechanics shared by every policy: the live target list, run-time add/remove,
 * and filtering to available targets. A policy is only a {@link Chooser}.
 */
import type { IncomingMessage } from 'node:http';
import type { Balancer, ProxyTarget, TargetInput } from '../types.js';
import { DEFAULTS } from '../config/defaults.js';
import { describeValue } from '../config/describe-value.js';
import { configError } from '../config/validate.js';
import type { ConfigError } from '../errors/config-error.js';
import { panicCandidates } from './passive-panic.js';
import { createTarget, isAvailable, type LiveTarget } from './target.js';

/**
 * A load-balancing policy: picks one of `candidates`, which are already filtered to available
 * targets (healthy, not full, not excluded, weight > 0; in passive health's panic mode,
 * passive marks are ignored) and never empty. Called synchronously
 * once per `next()`; the array is reused between calls, so a chooser must not keep it.
 */
export type Chooser = (candidates: readonly LiveTarget[], req: IncomingMessage) => LiveTarget | undefined;

/** A balancer created by switchyard: its targets are live targets with writable counters. */
export interface LiveBalancer extends Balancer {
  readonly targets: readonly LiveTarget[];
  add(target: TargetInput): LiveTarget;
  next(req: IncomingMessage, exclude?: ReadonlySet<ProxyTarget>): LiveTarget | undefined;
}

/** Settings `proxy()` applies to every current and future target of a balancer. */
export interface TargetDefaults {
  /** In-flight requests allowed per target. @default Infinity (unlimited) */
  maxConns?: number;
}

/** Appliers for {@link setTargetDefaults}, one per balancer we created. */
const defaultAppliers = new WeakMap<Balancer, (defaults: TargetDefaults) => void>();

/** `http://h:1/` and `http://h:1` name the same target. */
function withoutTrailingSlash(href: string): string {
  return href.endsWith('/') ? href.slice(0, -1) : href;
}

/** Normalises a `remove()` argument the way `URL` would (`HTTP://Host:80` → `http://host`), when it parses. */
function normalizeHref(text: string): string {
  if (!URL.canParse(text)) return withoutTrailingSlash(text);
  return withoutTrailingSlash(new URL(text).href);
}

function duplicateName(name: string, option: string): ConfigError {
  return configError(
    option,
    `is named ${JSON.stringify(name)}, which another target already has; give each target its own name`,
    "{ url: 'http://127.0.0.1:3001', name: 'api-2' }",
  );
}

/**
 * Creates a balancer over `inputs` with `chooser` as its policy.
 * @param opts.option the option named in validation errors. @default 'targets'
 * @throws ConfigError when `inputs` is not an array, an input is invalid, two targets share a
 * name, or every target has weight 0.
 */
export function createBalancer(inputs: readonly TargetInput[], chooser: Chooser, opts: { option?: string } = {}): LiveBalancer {
  const option = opts.option ?? 'targets';
  if (!Array.isArray(inputs)) {
    throw configError(option, `must be an array of targets, got ${describeValue(inputs)}`, "['http://127.0.0.1:3001']");
  }
  const initial: LiveTarget[] = [];
  const names = new Set<string>();
  inputs.forEach((input, i) => {
    const target = createTarget(input, `${option}[${i}]`);
    if (names.has(target.name)) throw duplicateName(target.name, `${option}[${i}]`);
    names.add(target.name);
    initial.push(target);
  });
  if (initial.length > 0 && initial.every((t) => t.weight === 0)) {
    throw configError(
      option,
      'would never be chosen: all weights are 0; give at least one target a weight above 0',
      "{ url: 'http://127.0.0.1:3001', weight: 1 }",
    );
  }

  // Copy-on-write: add/remove replace the array instead of splicing it, so a `next()` or a
  // `stats()` walking the old array (or a caller holding `targets`) never sees it shift.
  let targets: readonly LiveTarget[] = Object.freeze(initial);
  let maxConns = DEFAULTS.maxConns;
  // Reused for every `next()` so choosing allocates nothing; see the Chooser contract.
  const scratch: LiveTarget[] = [];

  const balancer: LiveBalancer = {
    get targets() {
      return targets;
    },
    add(input) {
      const target = createTarget(input, 'balancer.add() target');
      if (targets.some((t) => t.name === target.name)) throw duplicateName(target.name, 'balancer.add() target');
      target.maxConns = maxConns;
      targets = Object.freeze([...targets, target]);
      return target;
    },
    remove(nameOrUrl) {
      if (typeof nameOrUrl !== 'string') return false;
      let index = targets.findIndex((t) => t.name === nameOrUrl);
      if (index === -1) {
        const href = normalizeHref(nameOrUrl);
        index = targets.findIndex((t) => withoutTrailingSlash(t.url.href) === href);
      }
      if (index === -1) return false;
      // In-flight requests keep their reference and still settle their counters on it.
      targets = Object.freeze(targets.filter((_, i) => i !== index));
      return true;
    },
    next(req, exclude) {
      const list = targets;
      let n = 0;
      for (let i = 0; i < list.length; i++) {
        const t = list[i] as LiveTarget;
        if (isAvailable(t, exclude)) scratch[n++] = t;
      }
      // Nothing available: passive health's panic mode, if passive marks are what stands in the way.
      if (n === 0) n = panicCandidates(list, exclude, scratch);
      scratch.length = n;
      return n === 0 ? undefined : chooser(scratch, req);
    },
  };

  defaultAppliers.set(balancer, (defaults) => {
    if (defaults.maxConns !== undefined) {
      maxConns = defaults.maxConns;
      for (const t of targets) t.maxConns = maxConns;
    }
  });
  return balancer;
}

/**
 * Applies `proxy()`-level settings (`maxConns`) to every current target of `balancer` and to
 * every target added later. Only balancers created by switchyard can be configured this way;
 * for any other (a user's own implementation) it returns `false` and changes nothing.
 * Sharing one balancer between two `proxy()` calls: the last call's settings win.
 * @throws ConfigError when `maxConns` is not a positive integer or `Infinity`.
 */
export function setTargetDefaults(balancer: Balancer, defaults: TargetDefaults): boolean {
  const { maxConns } = defaults;
  if (
    maxConns !== undefined &&
    !(typeof maxConns === 'number' && maxConns > 0 && (Number.isInteger(maxConns) || maxConns === Infinity))
  ) {
    throw configError('maxConns', `must be a positive integer, got ${describeValue(maxConns)}`, 'maxConns: 100');
  }
  const apply = defaultAppliers.get(balancer);
  if (apply === undefined) return false;
  apply(defaults);
  return true;
}
