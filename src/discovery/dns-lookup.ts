/**
 * One round of DNS discovery: the name's A/AAAA records (each address one target on the
 * configured port), or its SRV records (each record's target host resolved to addresses, with
 * the record's port and weight). Throws when the round failed, so the caller keeps what it had.
 */
import type { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { DiscoverSettings } from '../config/discover-option.js';

/** A target found in DNS. */
export interface FoundTarget {
  /** The target URL as `URL#href` gives it: the key that tells survivors from newcomers. */
  readonly href: string;
  readonly weight: number;
  /** The host the address came from: the discovered name, or an SRV record's target. */
  readonly host: string;
}

/**
 * RFC 2782: a weight-0 record "SHOULD have a very small chance of being selected" next to
 * weighted ones. A weight of 0 would never be chosen by any policy, so it becomes this.
 */
const ZERO_WEIGHT = 0.01;

/** A resolver error's code (`ESERVFAIL`, `ENOTFOUND`, …), or `undefined`. */
export function errorCode(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The addresses of `host` for `types`. "No records of this type" (ENODATA) is an answer, not a
 * failure; so is "no such host" (ENOTFOUND) when `missingOk` (an SRV record's stale target).
 */
async function addressesOf(resolver: Resolver, host: string, types: readonly ('A' | 'AAAA')[], missingOk: boolean): Promise<string[]> {
  const lists = await Promise.all(
    types.map((type) =>
      (type === 'A' ? resolver.resolve4(host) : resolver.resolve6(host)).catch((err: unknown) => {
        if (errorCode(err) === 'ENODATA' || (missingOk && errorCode(err) === 'ENOTFOUND')) return [];
        throw err;
      }),
    ),
  );
  return lists.flat();
}

function hrefOf(scheme: string, address: string, port: number): string {
  return new URL(`${scheme}://${isIP(address) === 6 ? `[${address}]` : address}:${port}`).href;
}

/** SRV: the lowest-priority group that has at least one address (RFC 2782 tries groups in that order). */
async function lookupSrv(resolver: Resolver, s: DiscoverSettings): Promise<FoundTarget[]> {
  const records = await resolver.resolveSrv(s.dns).catch((err: unknown) => {
    if (errorCode(err) === 'ENODATA') return [];
    throw err;
  });
  // A target of "." says the service is decidedly not available at this name (RFC 2782).
  const usable = records.filter((r) => r.name !== '' && r.name !== '.');
  const priorities = [...new Set(usable.map((r) => r.priority))].sort((a, b) => a - b);
  for (const priority of priorities) {
    const group = usable.filter((r) => r.priority === priority);
    // The hosts of a group are asked for at once: a service with 50 instances is 100 questions.
    const addresses = await Promise.all(group.map((r) => (isIP(r.name) !== 0 ? [r.name] : addressesOf(resolver, r.name, ['A', 'AAAA'], true))));
    const found = group.flatMap((r, i) => {
      const weight = r.weight === 0 ? ZERO_WEIGHT : r.weight;
      return (addresses[i] as string[]).map((address) => ({ href: hrefOf(s.scheme, address, r.port), weight, host: r.name }));
    });
    if (found.length > 0) return found;
  }
  return [];
}

/**
 * The targets `s.dns` names now, without duplicates (the first occurrence wins).
 * @throws the resolver's error (ESERVFAIL, ETIMEOUT, ENOTFOUND for the name itself, ECANCELLED, …).
 */
export async function lookupTargets(resolver: Resolver, s: DiscoverSettings): Promise<FoundTarget[]> {
  let found: FoundTarget[];
  if (s.type === 'SRV') {
    found = await lookupSrv(resolver, s);
  } else {
    const addresses = await addressesOf(resolver, s.dns, s.type, false);
    found = addresses.map((address) => ({ href: hrefOf(s.scheme, address, s.port as number), weight: 1, host: s.dns }));
  }
  const unique = new Map<string, FoundTarget>();
  for (const f of found) if (!unique.has(f.href)) unique.set(f.href, f);
  return [...unique.values()];
}
