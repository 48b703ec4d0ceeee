/**
 * The connection pools of one middleware: an undici `Agent`, which keeps one pool per target
 * origin, with our connector (SNI and verification from the target, see connector.ts) — or the
 * user's own `dispatcher`, which we then never close.
 *
 * A Unix-socket target has an origin of its own (routing/target-address.ts), and the Agent's
 * pool factory gives that origin a connector bound to the socket: the choice is made once per
 * pool, so requests to TCP targets do no extra work.
 *
 * With `http2`, an HTTP/2 connection carries many requests at once (see `multiplexing`).
 *
 * Besides the request pools, two more Agents with the same connection settings:
 * - health checks get their own, so a check never queues behind traffic for a pool slot and
 *   each check opens a fresh connection (it asks for `reset`), proving the target still accepts
 *   them, as the old one-connection-per-check client did;
 * - with `http2`, WebSocket upgrades get an HTTP/1.1-only one: over an HTTP/2 connection
 *   undici would send RFC 8441's extended CONNECT, which few WebSocket servers accept, while
 *   an `Upgrade: websocket` request on a fresh HTTP/1.1 connection works with all of them.
 */
import { Agent, Client, Pool, type Dispatcher } from 'undici';
import type { ResolvedPool, ResolvedTls } from '../config/normalize-config.js';
import { socketRouteOf } from '../routing/target-address.js';
import type { DispatcherLike } from '../types.js';
import type { Socket } from 'node:net';
import { createConnector, targetServername, type Connector, type ConnectorOptions } from './connector.js';

export interface Pools {
  readonly dispatcher: Dispatcher;
  /** Where active health checks are sent: our checks Agent, or the user's dispatcher. */
  readonly checks: Dispatcher;
  /** Where WebSocket upgrades are sent: HTTP/1.1 only (see the file header), or the user's dispatcher. */
  readonly upgrades: Dispatcher;
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

/**
 * Requests one HTTP/2 connection carries at once: undici's default for a peer's
 * `SETTINGS_MAX_CONCURRENT_STREAMS` (and its `H2CClient`'s), which Node's servers accept.
 */
const H2_STREAMS = 100;

type ClientFactory = (origin: URL, options: Client.Options) => Client;

/**
 * With `http2`, whether a connection speaks HTTP/2 is only known once ALPN is done, and undici
 * then still limits it to `pipelining` requests at a time, which must stay 1 for HTTP/1.1 (no
 * pipelining). So the pool's connector notes the protocol of the connection it hands over, and
 * each client, on its `connect` event (emitted synchronously inside that hand-over), lets an
 * HTTP/2 connection carry {@link H2_STREAMS} requests and keeps HTTP/1.1 at `pipelining`.
 */
function multiplexing(connect: Connector, pipelining: number): { connect: Connector; factory: ClientFactory } {
  let h2 = false;
  return {
    connect(params, callback) {
      connect(params, (err, socket) => {
        h2 = (socket as (Socket & { alpnProtocol?: string | false }) | null)?.alpnProtocol === 'h2';
        try {
          callback(err, socket);
        } finally {
          // Should undici ever emit `connect` later, the client falls back to one request at a
          // time (never HTTP/1.1 pipelining).
          h2 = false;
        }
      });
    },
    factory(origin, options) {
      const client = new Client(origin, options);
      client.on('connect', () => {
        client.pipelining = h2 ? H2_STREAMS : pipelining;
      });
      return client;
    },
  };
}

/** An Agent whose pools connect through our connector: to the origin, or to its Unix socket. */
function createAgent(s: PoolSettings, http2: boolean, connections: number | null): Agent {
  const settings: ConnectorOptions = { tls: s.tls, timeout: s.connectTimeout, http2 };
  const tcp = createConnector(settings);
  // pipelining 0 is undici's "no keep-alive"; 1 keeps connections without pipelining.
  const pipelining = s.pool.keepAlive ? 1 : 0;
  return new Agent({
    connections,
    pipelining,
    keepAliveTimeout: s.pool.keepAliveMsecs,
    keepAliveMaxTimeout: Math.max(s.pool.keepAliveMsecs, 1),
    allowH2: http2,
    headersTimeout: 0,
    bodyTimeout: 0,
    // Called once per origin: the connector (TCP, or this origin's socket) is fixed for the pool's life.
    factory(origin, options) {
      const socket = socketRouteOf(String(origin));
      const connector = socket === undefined ? tcp : createConnector({ ...settings, socket });
      // Multiplexing needs keep-alive: without it each connection closes after one request.
      const mux = http2 && pipelining > 0 ? multiplexing(connector, pipelining) : undefined;
      const opts: Pool.Options = {
        ...(options as Pool.Options),
        connect: (mux?.connect ?? connector) as unknown as Pool.Options['connect'],
        ...(mux === undefined ? {} : { factory: mux.factory as unknown as Pool.Options['factory'] }),
      };
      // undici's own default factory: one connection needs no pool around it.
      if (opts.connections === 1) {
        return mux === undefined ? new Client(origin, opts) : mux.factory(new URL(String(origin)), opts);
      }
      return new Pool(origin, opts);
    },
  });
}

export function createPools(s: PoolSettings): Pools {
  const own = s.dispatcher === undefined;
  const connections = Number.isFinite(s.pool.maxSockets) ? s.pool.maxSockets : null;
  // A user's dispatcher is an undici Dispatcher by contract (DispatcherLike only keeps undici's `any`s out of our types).
  const dispatcher = own ? createAgent(s, s.http2, connections) : (s.dispatcher as Dispatcher);
  const checks = own ? createAgent(s, s.http2, null) : dispatcher;
  const upgrades = own && s.http2 ? createAgent(s, false, connections) : dispatcher;
  const names = new Map<string, string>();
  return {
    dispatcher,
    checks,
    upgrades,
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
      if (!own) return;
      await Promise.all([dispatcher.destroy(), checks.destroy(), upgrades === dispatcher ? undefined : upgrades.destroy()]);
    },
  };
}
