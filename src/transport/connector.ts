/**
 * How a pooled upstream connection is opened: TCP or a Unix socket, plain or TLS with our SNI
 * and verification rules. undici calls this for every new connection of the middleware's own
 * pools; whether a pool dials a socket is decided once, when the pool is made (pools.ts).
 *
 * Why our own connector rather than undici's `buildConnector`: undici derives SNI from the
 * request's `Host` header, which `preserveHost` and header rules replace, and has no way to
 * send no SNI at all (`tls.servername: false`). Here SNI always comes from the target (or the
 * `tls.servername` option), never from request data.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import net, { isIP, type LookupFunction, type Socket } from 'node:net';
import tls from 'node:tls';
import type { ResolvedTls } from '../config/normalize-config.js';
import type { SocketRoute } from '../routing/target-address.js';

const LOOPBACK: readonly LookupAddress[] = [
  { address: '127.0.0.1', family: 4 },
  { address: '::1', family: 6 },
];

/**
 * `localhost` is always loopback (RFC 6761 §6.3), but hosts files often map it to one family
 * only (127.0.0.1 here, ::1 elsewhere) while a local upstream listens on the other. Offering
 * both addresses lets Node's happy eyeballs (`autoSelectFamily`, on by default since Node 20)
 * connect to whichever one listens. Every other name goes to `dns.lookup` unchanged.
 */
export const lookupLocalhost: LookupFunction = (hostname, options, callback) => {
  if (hostname.toLowerCase() !== 'localhost') {
    dnsLookup(hostname, options, callback);
    return;
  }
  const family = options.family === 6 || options.family === 'IPv6' ? 6 : options.family === 4 || options.family === 'IPv4' ? 4 : 0;
  const addresses = LOOPBACK.filter((a) => family === 0 || a.family === family);
  const [firstAddress] = addresses as [LookupAddress];
  // Asynchronous like a real lookup: net attaches its listeners after calling us.
  process.nextTick(() => {
    if (options.all === true) callback(null, addresses.map((a) => ({ ...a })));
    else callback(null, firstAddress.address, firstAddress.family);
  });
};

/**
 * The SNI name for an `https:` target: `tls.servername` when configured (`false` → `''`,
 * which sends none), else the target's host name without a trailing dot. An IP address gives
 * `''`: RFC 6066 forbids IP literals in SNI.
 */
export function targetServername(hostname: string, configured: string | false | undefined): string {
  if (configured !== undefined) return configured === false ? '' : configured;
  let host = hostname;
  if (host.startsWith('[')) return '';
  if (host.endsWith('.')) host = host.slice(0, -1);
  return isIP(host) === 0 ? host : '';
}

/** What undici passes to a connector. */
export interface ConnectParams {
  readonly hostname: string;
  readonly protocol: string;
  readonly port: string;
}

export type ConnectCallback = (err: Error | null, socket: Socket | null) => void;
export type Connector = (params: ConnectParams, callback: ConnectCallback) => void;

/** Connector settings, fixed per middleware. */
export interface ConnectorOptions {
  readonly tls: ResolvedTls;
  /** Ms before a connection still being established is destroyed. */
  readonly timeout: number;
  /** Offer HTTP/2 by ALPN on TLS connections. */
  readonly http2: boolean;
  /** Connect to this Unix socket instead of the origin's host and port. */
  readonly socket?: SocketRoute | undefined;
}

/** `[::1]` in a URL is `::1` on the wire. */
function bareHost(hostname: string): string {
  return hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
}

/** Where to connect: the Unix socket, or the origin's host and port. */
function address(opts: ConnectorOptions, params: ConnectParams, defaultPort: number): net.NetConnectOpts & tls.ConnectionOptions {
  if (opts.socket !== undefined) return { path: opts.socket.socketPath };
  return { host: bareHost(params.hostname), port: Number(params.port || defaultPort), lookup: lookupLocalhost };
}

function openSocket(opts: ConnectorOptions, params: ConnectParams): Socket {
  if (params.protocol !== 'https:') {
    return net.connect({ ...address(opts, params, 80), noDelay: true });
  }
  const t = opts.tls;
  // A socket origin's host name is a stand-in: TLS over a socket verifies the target's own.
  const servername = targetServername(opts.socket?.hostname ?? params.hostname, t.servername);
  const socket = tls.connect({
    ...address(opts, params, 443),
    // An empty servername tells Node to send no SNI; identity checks then use `host`.
    servername,
    rejectUnauthorized: t.verify,
    ca: t.ca,
    cert: t.cert,
    key: t.key,
    ALPNProtocols: opts.http2 ? ['h2', 'http/1.1'] : ['http/1.1'],
  });
  socket.setNoDelay(true);
  return socket;
}

/**
 * Creates the connector of one middleware. A connection not established within `timeout` is
 * destroyed (the attempt waiting for it has already failed by its own clock by then).
 */
export function createConnector(opts: ConnectorOptions): Connector {
  return (params, callback) => {
    let socket: Socket;
    try {
      socket = openSocket(opts, params);
    } catch (err) {
      callback(err as Error, null);
      return;
    }
    let pending = true;
    const connected = (): void => {
      if (!pending) return;
      pending = false;
      socket.setTimeout(0);
      socket.off('timeout', onTimeout);
      socket.off('error', onError);
      callback(null, socket);
    };
    const onError = (err: Error): void => {
      if (!pending) return;
      pending = false;
      socket.destroy();
      callback(err, null);
    };
    const onTimeout = (): void => {
      const err = Object.assign(new Error('upstream connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' });
      onError(err);
    };
    socket.setKeepAlive(true, 60_000);
    socket.setTimeout(opts.timeout, onTimeout);
    socket.once(params.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
    socket.on('error', onError);
  };
}
