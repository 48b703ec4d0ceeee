/**
 * The connection pools of one middleware: an undici `Agent`, which keeps one pool per target
 * origin, with our connector (SNI and verification from the target, see connector.ts) — or the
 * user's own `dispatcher`, which we then never close.
 */
import { Agent, type Dispatcher } from 'undici';
import type { ResolvedPool, ResolvedTls } from '../config/normalize-config.js';
import type { DispatcherLike } from '../types.js';
import { createConnector, targetServername } from './connector.js';

export interface Pools {
  readonly dispatcher: Dispatcher;
  /** Whether `keepAlive` is off: each request then asks for its connection to be closed. */
  readonly closeEach: boolean;
  /**
   * A constant SNI value per target host: undici reconnects whenever a request's `servername`
   * differs from its connection's, and derives one from the Host header when none is given,
   * so preserved Host headers would otherwise churn connections. The connector ignores it.
   */
  servername(hostname: string): string;
  /** Destroys our pooled connections (never a user's dispatcher). */
  destroy(): Promise<void>;
}

export interface PoolSettings {
  readonly pool: ResolvedPool;
  readonly tls: ResolvedTls;
  readonly connectTimeout: number;
  readonly http2: boolean;
  readonly dispatcher: DispatcherLike | undefined;
}

export function createPools(s: PoolSettings): Pools {
  const own =
    s.dispatcher === undefined
      ? new Agent({
          connect: createConnector({ tls: s.tls, timeout: s.connectTimeout, http2: s.http2 }) as unknown as Agent.Options['connect'],
          connections: Number.isFinite(s.pool.maxSockets) ? s.pool.maxSockets : null,
          // pipelining 0 is undici's "no keep-alive"; 1 keeps connections without pipelining.
          pipelining: s.pool.keepAlive ? 1 : 0,
          keepAliveTimeout: s.pool.keepAliveMsecs,
          keepAliveMaxTimeout: Math.max(s.pool.keepAliveMsecs, 1),
          allowH2: s.http2,
          headersTimeout: 0,
          bodyTimeout: 0,
        })
      : undefined;
  const names = new Map<string, string>();
  return {
    // A user's dispatcher is an undici Dispatcher by contract (DispatcherLike only keeps undici's `any`s out of our types).
    dispatcher: own ?? (s.dispatcher as Dispatcher),
    closeEach: !s.pool.keepAlive,
    servername(hostname) {
      let name = names.get(hostname);
      if (name === undefined) {
        name = targetServername(hostname, s.tls.servername) || hostname.replace(/^\[|\]$/g, '');
        names.set(hostname, name);
      }
      return name;
    },
    async destroy() {
      await own?.destroy();
    },
  };
}
