/**
 * Client IP hash: the same client address keeps its target (rendezvous hashing). The address
 * is the socket's peer address (the TCP connection's other end), never `X-Forwarded-For`:
 * that header is client-supplied, so keying on it would let anyone pick a target. Behind
 * another proxy every client shares that proxy's address; use `headerHash` on a header your
 * own front proxy sets instead.
 */
import type { Chooser } from '../balancer.js';
import { clientAddress } from '../../headers/forwarded.js';
import { createRendezvous } from './rendezvous.js';

/** Creates the `ip_hash` chooser (stateless). An unknown address (`''`) hashes like any other key. */
export function createIpHash(): Chooser {
  return createRendezvous(clientAddress);
}
