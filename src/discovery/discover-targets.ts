/**
 * Keeps a balancer's discovered targets in step with DNS: a lookup when `proxy()` is called,
 * then one every `interval` ms after the previous one finished (so lookups never overlap).
 * Only the targets this module added are ever removed; `targets` given in the config stay.
 * The balancer's own `add()` / `remove()` are the whole mechanism, so every balancer works,
 * active health checks pick added targets up on their next round and forget removed ones,
 * and a removed target's in-flight requests finish on it.
 */
import { Resolver } from 'node:dns/promises';
import { isLiveTarget } from '../balancer/target.js';
import type { DiscoverSettings } from '../config/discover-option.js';
import { debug } from '../observability/channels.js';
import type { Balancer, ProxyTarget } from '../types.js';
import { errorCode, lookupTargets, type FoundTarget } from './dns-lookup.js';

/**
 * Per-try timeout of one query, and tries per server. c-ares' defaults (5 s, 4 tries, with
 * growing waits) could hold the first requests for most of a minute when DNS is down.
 */
const QUERY_TIMEOUT = 2000;
const QUERY_TRIES = 2;

/** The running discovery of one middleware. */
export interface Discovery {
  /** Whether the first lookup has finished, well or not. */
  readonly settled: boolean;
  /** Resolves once the first lookup has finished; never rejects. */
  readonly firstLookup: Promise<void>;
  /** Stops the timer and cancels a lookup in flight; the targets stay as they are. Idempotent. */
  close(): void;
}

/** Starts discovering targets for `balancer`; the first lookup is sent before this returns. */
export function startDiscovery(balancer: Balancer, s: DiscoverSettings): Discovery {
  const resolver = new Resolver({ timeout: Math.min(s.interval, QUERY_TIMEOUT), tries: QUERY_TRIES });
  if (s.servers !== undefined) resolver.setServers(s.servers);
  /** The targets this module added, by href. */
  const owned = new Map<string, ProxyTarget>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  function apply(found: readonly FoundTarget[]): void {
    const wanted = new Map(found.map((f) => [f.href, f]));
    const changes: string[] = [];
    for (const [href, target] of owned) {
      if (wanted.has(href)) continue;
      owned.delete(href);
      balancer.remove(target.name);
      changes.push(`-${target.name}`);
    }
    for (const f of found) {
      const have = owned.get(f.href);
      if (have !== undefined) {
        // A survivor keeps its object (health, counters); only an SRV weight can have changed.
        if (have.weight !== f.weight && isLiveTarget(have)) (have as { weight: number }).weight = f.weight;
        continue;
      }
      try {
        const target = balancer.add({ url: f.href, weight: f.weight, meta: { dns: s.dns, host: f.host } });
        owned.set(f.href, target);
        changes.push(`+${target.name}`);
      } catch (err) {
        // Already in `targets` under this name (or a custom balancer refused it): it serves as it is.
        if (debug.enabled) debug('discover %s: %s not added: %s', s.dns, f.href, err instanceof Error ? err.message : String(err));
      }
    }
    if (changes.length > 0 && debug.enabled) debug('discover %s: %s (%d discovered)', s.dns, changes.join(' '), owned.size);
  }

  async function refresh(): Promise<void> {
    try {
      const found = await lookupTargets(resolver, s);
      if (closed) return;
      // An empty answer is kept out like an error: DNS alone never takes every target away.
      if (found.length === 0) {
        if (debug.enabled) debug('discover %s: no address in the answer, keeping the %d discovered', s.dns, owned.size);
        return;
      }
      apply(found);
    } catch (err) {
      if (!closed && debug.enabled) debug('discover %s: lookup failed (%s), keeping the %d discovered', s.dns, errorCode(err) ?? String(err), owned.size);
    }
  }

  function schedule(): void {
    discovery.settled = true;
    if (closed) return;
    timer = setTimeout(() => void refresh().then(schedule), s.interval);
    timer.unref();
  }

  // A plain field, not a getter: every request reads it.
  const discovery: { settled: boolean; firstLookup: Promise<void>; close(): void } = {
    settled: false,
    firstLookup: refresh().then(schedule),
    close() {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      resolver.cancel();
    },
  };
  return discovery;
}

/**
 * `fn`, deferred until the first lookup has finished, so a request that arrives at start-up
 * goes to the discovered targets rather than getting `NO_UPSTREAM` (Caddy resolves on the first
 * request too). Afterwards a call costs one property read. Three declared parameters: Express
 * tells middleware from error handlers by arity.
 */
export function afterFirstLookup<A, B, C>(discovery: Discovery, fn: (a: A, b: B, c: C) => void): (a: A, b: B, c: C) => void {
  return function switchyard(a, b, c) {
    if (discovery.settled) return fn(a, b, c);
    void discovery.firstLookup.then(() => fn(a, b, c));
  };
}

/** Runs `go` now, or once the first lookup has finished (see {@link afterFirstLookup}). */
export function whenSettled(discovery: Discovery, go: () => void): void {
  if (discovery.settled) go();
  else void discovery.firstLookup.then(go);
}
