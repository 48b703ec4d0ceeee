/**
 * Validates `discover` (DNS-discovered targets) into the settings src/discovery/ runs on.
 * Kept out of normalize-config.ts so that file stays a list of options, not their details.
 */
import { isIP } from 'node:net';
import type { DiscoverOptions } from '../types.js';
import { DEFAULTS } from './defaults.js';
import { configError, describeValue, numberOption, objectOption, rejectUnknownKeys } from './validate.js';

/** `discover` with every default applied. */
export interface DiscoverSettings {
  readonly dns: string;
  /** `'SRV'`, or the address record types to ask for (both by default). */
  readonly type: 'SRV' | readonly ('A' | 'AAAA')[];
  /** The targets' port for A/AAAA lookups; `undefined` for SRV (each record has its own). */
  readonly port: number | undefined;
  readonly scheme: 'http' | 'https';
  readonly interval: number;
  /** `dns.Resolver#setServers` entries; `undefined`: the system's resolvers. */
  readonly servers: readonly string[] | undefined;
}

const EXAMPLE = "discover: { dns: 'api.internal', port: 8080 }";
const KEYS = ['dns', 'type', 'port', 'scheme', 'interval', 'servers'];
/** Letters, digits, `-` and `_` (SRV's `_http._tcp`) in dot-separated labels, an optional root dot. */
const DNS_NAME = /^(?=.{1,253}\.?$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;

function resolveName(value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw configError('discover.dns', `must be a DNS name, got ${describeValue(value)}`, EXAMPLE);
  }
  if (value.includes('://') || value.includes('/')) {
    throw configError('discover.dns', `must be a bare DNS name (scheme and port are separate keys), got ${JSON.stringify(value)}`, "discover: { dns: 'api.internal', scheme: 'https', port: 8443 }");
  }
  if (isIP(value) !== 0) {
    throw configError('discover.dns', `is an IP address, which has nothing to discover; list it in targets instead, got ${value}`, `targets: 'http://${value}'`);
  }
  if (!DNS_NAME.test(value)) throw configError('discover.dns', `must be a DNS name, got ${JSON.stringify(value)}`, EXAMPLE);
  return value;
}

const BOTH: readonly ('A' | 'AAAA')[] = Object.freeze(['A', 'AAAA'] as const);

function resolveType(value: unknown): DiscoverSettings['type'] {
  if (value === undefined) return BOTH;
  if (value === 'A' || value === 'AAAA') return Object.freeze([value] as const);
  if (value === 'SRV') return value;
  throw configError('discover.type', `must be 'A', 'AAAA' or 'SRV' (leave it out for both A and AAAA), got ${describeValue(value)}`, "discover: { dns: '_http._tcp.api.service.consul', type: 'SRV' }");
}

function resolvePort(value: unknown, type: DiscoverSettings['type'], scheme: 'http' | 'https'): number | undefined {
  if (type === 'SRV') {
    if (value !== undefined) throw configError('discover.port', 'cannot be given with type SRV: each SRV record carries its port', "discover: { dns: '_http._tcp.api.service.consul', type: 'SRV' }");
    return undefined;
  }
  if (value === undefined) return scheme === 'https' ? 443 : 80;
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535)) {
    throw configError('discover.port', `must be an integer from 1 to 65535, got ${describeValue(value)}`, EXAMPLE);
  }
  return value;
}

function resolveScheme(value: unknown): 'http' | 'https' {
  if (value === undefined) return DEFAULTS.discover.scheme;
  if (value === 'http' || value === 'https') return value;
  throw configError('discover.scheme', `must be 'http' or 'https', got ${describeValue(value)}`, "discover: { dns: 'api.internal', scheme: 'https' }");
}

/** `a.b.c.d`, `a.b.c.d:port`, an IPv6 address, or `[v6]:port`, as `dns.Resolver#setServers` takes them. */
function isServer(entry: unknown): boolean {
  if (typeof entry !== 'string') return false;
  if (isIP(entry) !== 0) return true;
  const m = /^(?:\[([^\]]+)\]|(\d+\.\d+\.\d+\.\d+)):(\d{1,5})$/.exec(entry);
  if (m === null) return false;
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  // Checked here, not left to setServers: Node 20 aborts the whole process on port 0 and
  // silently wraps ports above 65535.
  return isIP(host) === (m[1] === undefined ? 4 : 6) && port >= 1 && port <= 65535;
}

function resolveServers(value: unknown): readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0) {
    throw configError('discover.servers', `must be a non-empty array of DNS server addresses, got ${describeValue(value)}`, "servers: ['10.0.0.2', '127.0.0.1:5353']");
  }
  value.forEach((entry: unknown, i) => {
    if (!isServer(entry)) {
      throw configError(`discover.servers[${i}]`, `must be an IP address with an optional port (1-65535; [brackets] around IPv6 with a port), got ${describeValue(entry)}`, "servers: ['127.0.0.1:5353', '[::1]:53']");
    }
  });
  return Object.freeze([...(value as string[])]);
}

/**
 * `config.discover`, validated and defaulted; `undefined` when off.
 * @throws ConfigError naming `discover.<key>`.
 */
export function resolveDiscover(value: DiscoverOptions | undefined): DiscoverSettings | undefined {
  const d = objectOption('discover', value, EXAMPLE);
  if (d === undefined) return undefined;
  rejectUnknownKeys('discover', d, KEYS);
  const type = resolveType(d['type']);
  const scheme = resolveScheme(d['scheme']);
  return Object.freeze({
    dns: resolveName(d['dns']),
    type,
    port: resolvePort(d['port'], type, scheme),
    scheme,
    interval: numberOption('discover.interval', d['interval'], DEFAULTS.discover.interval, {
      min: 1, integer: true, example: "discover: { dns: 'api.internal', interval: 10000 }",
    }),
    servers: resolveServers(d['servers']),
  });
}
