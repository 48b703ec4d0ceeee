/** Per-target values the hot path needs, computed once per target instead of per request. */
import type { ProxyTarget } from '../types.js';
import { normalizePrefix } from './upstream-url.js';

/** A target's path prefix (joined by concatenation), `Host` header value, origin to dial, and whether it uses TLS. */
export interface TargetAddress {
  readonly prefix: string;
  readonly host: string;
  /**
   * The undici origin the target is dispatched to: `http://h:p` or `https://h:p` (`ws:`/`wss:`
   * targets are dialled as `http:`/`https:`), or for a Unix-socket target a name standing for
   * its socket (see {@link socketOrigin}), so each socket gets its own pool.
   */
  readonly origin: string;
  /** The URL's host name (IPv6 in brackets), for SNI decisions. */
  readonly hostname: string;
  readonly secure: boolean;
  /** The Unix socket to connect to, if any. */
  readonly socketPath: string | undefined;
}

const cache = new WeakMap<ProxyTarget, TargetAddress>();

/** Host names of socket origins end with this: `.invalid` never resolves (RFC 6761 §6.4). */
const SOCKET_SUFFIX = '.sock.invalid';

/** Where a socket origin connects: the socket, and the target's own host name (for SNI). */
export interface SocketRoute {
  readonly socketPath: string;
  readonly hostname: string;
}

/**
 * The origin of a Unix-socket target. undici keys its pools by origin, so the socket path (and
 * the host name, which TLS over the socket verifies) are written into it, hex-encoded (host
 * names are case-insensitive): the pool factory reads them back once per pool
 * ({@link socketRouteOf}), and no request ever looks them up. TCP targets never get one.
 */
export function socketOrigin(secure: boolean, route: SocketRoute): string {
  const hex = Buffer.from(JSON.stringify([route.socketPath, route.hostname])).toString('hex');
  return `${secure ? 'https' : 'http'}://${hex}${SOCKET_SUFFIX}`;
}

/** The socket route an origin made by {@link socketOrigin} stands for; `undefined` for any other origin. */
export function socketRouteOf(origin: string): SocketRoute | undefined {
  const start = origin.indexOf('://') + 3;
  if (!origin.endsWith(SOCKET_SUFFIX) || start < 3) return undefined;
  try {
    const [socketPath, hostname] = JSON.parse(Buffer.from(origin.slice(start, -SOCKET_SUFFIX.length), 'hex').toString()) as [string, string];
    return typeof socketPath === 'string' && typeof hostname === 'string' ? { socketPath, hostname } : undefined;
  } catch {
    return undefined;
  }
}

/** The cached address of `target` (a target's URL and socket never change once created). */
export function targetAddress(target: ProxyTarget): TargetAddress {
  let address = cache.get(target);
  if (address === undefined) {
    const { pathname, host, hostname, protocol } = target.url;
    const secure = protocol === 'https:' || protocol === 'wss:';
    const socketPath = typeof target.socketPath === 'string' && target.socketPath !== '' ? target.socketPath : undefined;
    const origin = socketPath === undefined ? `${secure ? 'https' : 'http'}://${host}` : socketOrigin(secure, { socketPath, hostname });
    address = Object.freeze({ prefix: normalizePrefix(pathname), host, origin, hostname, secure, socketPath });
    cache.set(target, address);
  }
  return address;
}
