import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { ResolvedPool, ResolvedTls } from '../config/normalize-config.js';

/** The agents one middleware sends through: one per scheme, shared by all its targets. */
export interface Agents {
  readonly http: HttpAgent;
  readonly https: HttpsAgent;
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
  };
  const ownHttp = userAgent === undefined ? new HttpAgent(base) : undefined;
  const https = new HttpsAgent({
    ...base,
    rejectUnauthorized: tls.verify,
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    // '' tells Node to send no SNI at all.
    ...(tls.servername === undefined ? {} : { servername: tls.servername === false ? '' : tls.servername }),
  });
  return {
    http: userAgent ?? (ownHttp as HttpAgent),
    https: userAgent instanceof HttpsAgent ? userAgent : https,
    destroy() {
      ownHttp?.destroy();
      https.destroy();
    },
  };
}
