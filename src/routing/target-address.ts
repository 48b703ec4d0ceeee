/** Per-target values the hot path needs, computed once per target instead of per request. */
import type { ProxyTarget } from '../types.js';
import { normalizePrefix } from './upstream-url.js';

/** A target's path prefix (joined by concatenation), its `Host` header value, and whether it uses TLS. */
export interface TargetAddress {
  readonly prefix: string;
  readonly host: string;
  readonly secure: boolean;
}

const cache = new WeakMap<ProxyTarget, TargetAddress>();

/** The cached address of `target` (a target's URL never changes once created). */
export function targetAddress(target: ProxyTarget): TargetAddress {
  let address = cache.get(target);
  if (address === undefined) {
    const { pathname, host, protocol } = target.url;
    address = Object.freeze({ prefix: normalizePrefix(pathname), host, secure: protocol === 'https:' || protocol === 'wss:' });
    cache.set(target, address);
  }
  return address;
}
