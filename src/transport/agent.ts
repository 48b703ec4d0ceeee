import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { ResolvedPool, ResolvedTls } from '../config/normalize-config.js';

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
 * which tells Node to send none), else the target's host name without a trailing dot. An IP
 * address gives `''`: RFC 6066 forbids IP literals in SNI.
 */
export function targetServername(url: URL, configured: string | false | undefined): string {
  if (configured !== undefined) return configured === false ? '' : configured;
  let host = url.hostname;
  if (host.startsWith('[')) return '';
  if (host.endsWith('.')) host = host.slice(0, -1);
  return isIP(host) === 0 ? host : '';
}

/** The agents one middleware sends through: one per scheme, shared by all its targets. */
export interface Agents {
  readonly http: HttpAgent;
  readonly https: HttpsAgent;
  /**
   * The SNI name to send to `url`, passed with every https request: left alone, Node's agent
   * derives it from the `Host` header, which `preserveHost` or `headers` may have replaced.
   */
  servername(url: URL): string;
  /** Destroys pooled sockets of the agents this middleware created (never a user's agent). */
  destroy(): void;
}

/**
 * Creates the pooled keep-alive agents, or wraps the user's `agent`. http-proxy-3 sends
 * `Connection: close` when it has no agent, so an agent is always passed.
 */
export function createAgents(pool: ResolvedPool, tls: ResolvedTls, userAgent: HttpAgent | undefined): Agents {
  const base = {
    keepAlive: pool.keepAlive,
    keepAliveMsecs: pool.keepAliveMsecs,
    maxSockets: pool.maxSockets,
    maxFreeSockets: pool.maxFreeSockets,
    // Idle sockets are reused most-recently-first so a quiet pool shrinks instead of keeping
    // every socket barely alive (and racing the upstream's own keep-alive timeout).
    scheduling: 'lifo' as const,
    lookup: lookupLocalhost,
  };
  // A user's https.Agent serves https targets only; http targets keep our pooled agent.
  const userHttps = userAgent instanceof HttpsAgent ? userAgent : undefined;
  const userHttp = userHttps === undefined ? userAgent : undefined;
  const ownHttp = userHttp === undefined ? new HttpAgent(base) : undefined;
  const https = new HttpsAgent({
    ...base,
    rejectUnauthorized: tls.verify,
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
  });
  return {
    http: userHttp ?? (ownHttp as HttpAgent),
    https: userHttps ?? https,
    servername: (url) => targetServername(url, tls.servername),
    destroy() {
      ownHttp?.destroy();
      https.destroy();
    },
  };
}
