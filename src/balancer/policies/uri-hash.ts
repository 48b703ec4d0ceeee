/**
 * URI hash: the same path and query keep their target (rendezvous hashing), which suits
 * upstream caches. The key is `req.url` as the middleware sees it: mounted with
 * `app.use('/api', …)` that is the path after `/api`, before `rewrite` and `to` apply.
 */
import type { IncomingMessage } from 'node:http';
import type { Chooser } from '../balancer.js';
import { createRendezvous } from './rendezvous.js';

function pathAndQuery(req: IncomingMessage): string {
  return req.url ?? '/';
}

/** Creates the `uri_hash` chooser (stateless). */
export function createUriHash(): Chooser {
  return createRendezvous(pathAndQuery);
}
