/** Per-target values the hot path needs, computed once per target instead of per request. */
import type { ProxyTarget } from '../types.js';
import { normalizePrefix } from './upstream-url.js';

/** A target's path prefix (joined by concatenation), `Host` header value, origin to dial, and whether it uses TLS. */
export interface TargetAddress {
  readonly prefix: string;
  readonly host: string;
  /** `http://h:p` or `https://h:p` (`ws:`/`wss:` targets are dialled as `http:`/`https:`). */
  readonly origin: string;
  /** The URL's host name (IPv6 in brackets), for SNI decisions. */
  readonly hostname: string;
  readonly secure: boolean;
}

const cache = new WeakMap<ProxyTarget, TargetAddress>();

/** The cached address of `target` (a target's URL never changes once created). */
export function targetAddress(target: ProxyTarget): TargetAddress {
  let address = cache.get(target);
  if (address === undefined) {
    const { pathname, host, hostname, protocol } = target.url;
    const secure = protocol === 'https:' || protocol === 'wss:';
    address = Object.freeze({ prefix: normalizePrefix(pathname), host, origin: `${secure ? 'https' : 'http'}://${host}`, hostname, secure });
    cache.set(target, address);
  }
  return address;
}
