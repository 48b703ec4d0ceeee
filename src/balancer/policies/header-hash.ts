/**
 * Header hash: the same value of one request header keeps its target (rendezvous hashing).
 * A request without the header, or with it empty (as Caddy's `header` policy), is balanced
 * by smooth weighted round robin instead.
 */
import type { IncomingMessage } from 'node:http';
import type { Chooser } from '../balancer.js';
import { createRendezvous } from './rendezvous.js';
import { createRoundRobin } from './round-robin.js';

/**
 * Creates a header-hash chooser on header `name` (any letter case; validated by the caller).
 * Repeated headers are hashed as Node joins them (`a, b`).
 */
export function createHeaderHash(name: string): Chooser {
  const lower = name.toLowerCase();
  const valueOf = (req: IncomingMessage): string | undefined => {
    const value = req.headers[lower];
    if (value === undefined || value === '') return undefined;
    // Only set-cookie arrives as an array; join it like any other repeated header.
    return typeof value === 'string' ? value : value.length === 0 ? undefined : value.join(', ');
  };
  return createRendezvous(valueOf, createRoundRobin());
}
