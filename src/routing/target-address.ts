/** Per-target values the hot path needs, computed once per target instead of per request. */
import type { ProxyTarget } from '../types.js';
import { normalizePrefix } from './upstream-url.js';

/** A target's path prefix (joined by concatenation) and its `Host` header value. */
export interface TargetAddress {
  readonly prefix: string;
  readonly host: string;
}

const cache = new WeakMap<ProxyTarget, TargetAddress>();

/** The cached address of `target` (a target's URL never changes once created). */
export function targetAddress(target: ProxyTarget): TargetAddress {
  let address = cache.get(target);
  if (address === undefined) {
    address = Object.freeze({ prefix: normalizePrefix(target.url.pathname), host: target.url.host });
    cache.set(target, address);
  }
  return address;
}
