/** `proxy(config)`: composes the modules into one middleware and owns what they create. */
import { targetStats } from './balancer/target.js';
import { normalizeConfig } from './config/normalize-config.js';
import { createRequestHandler } from './handle-request.js';
import { afterFirstLookup, startDiscovery, whenSettled } from './discovery/discover-targets.js';
import { startActiveHealth } from './health/active.js';
import type { HttpDeps } from './http-attempt.js';
import { renderMetrics } from './observability/metrics.js';
import { createMiddlewareMetrics } from './observability/metric-counters.js';
import { createDeadlineClock, tickFor } from './transport/deadline-clock.js';
import { createPools } from './transport/pools.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProxyConfig, ProxyMiddleware } from './types.js';
import { createUpgradeHandler, createUpgradeRefuser } from './websocket/handle-upgrade.js';
import { createSocketRegistry } from './websocket/socket-registry.js';

/**
 * Creates the proxy middleware. Everything is validated and compiled here, once: an invalid
 * option throws a `TypeError` naming it.
 *
 * @example
 * app.use('/api', proxy({ targets: ['http://127.0.0.1:3001', 'http://127.0.0.1:3002'] }));
 */
export function proxy<Req extends IncomingMessage = IncomingMessage, Res extends ServerResponse = ServerResponse>(
  config: ProxyConfig<Req, Res>,
): ProxyMiddleware<Req, Res> {
  // The pipeline works on Node's types; `Req` and `Res` only narrow what the user's callbacks
  // are typed to receive (the host passes its own objects, which are those types at run time).
  const cfg = normalizeConfig(config as unknown as ProxyConfig);
  const pools = createPools({ pool: cfg.pool, tls: cfg.tls, connectTimeout: cfg.connectTimeout, http2: cfg.http2, dispatcher: cfg.dispatcher });
  const timeouts = { connect: cfg.connectTimeout, response: cfg.timeout, idle: cfg.idleTimeout };
  const clock = createDeadlineClock(tickFor([timeouts.connect, timeouts.response, timeouts.idle]));
  const deps: HttpDeps = { cfg, pools, clock, timeouts, metrics: createMiddlewareMetrics() };
  const state = { closed: false };
  const handle = createRequestHandler(deps, state);
  // ws off: nothing is created, and an upgrade is answered 501 (see docs/websockets.md).
  const tunnels = cfg.ws ? createSocketRegistry() : undefined;
  const active = cfg.healthCheck === undefined ? undefined : startActiveHealth(cfg.balancer, cfg.healthCheck, pools);
  const discovery = cfg.discover === undefined ? undefined : startDiscovery(cfg.balancer, cfg.discover);
  // What the host mounts; `mw.upgrade` looks for this function in the app to find its mount path.
  const entry = discovery === undefined ? handle : afterFirstLookup(discovery, handle);
  const gate = discovery === undefined ? undefined : (go: () => void) => whenSettled(discovery, go);
  const upgrade = tunnels === undefined ? createUpgradeRefuser(entry) : createUpgradeHandler(deps, tunnels, state, entry, gate);
  let closed: Promise<void> | undefined;

  const extras = {
    balancer: cfg.balancer,
    stats: () => cfg.balancer.targets.map(targetStats),
    metrics: () => renderMetrics(cfg.balancer.targets, deps.metrics),
    upgrade,
    close(): Promise<void> {
      state.closed = true;
      discovery?.close();
      closed ??= Promise.resolve().then(async () => {
        tunnels?.closeAll();
        cfg.passive?.close();
        await Promise.all([pools.destroy(), active?.close()]);
      });
      return closed;
    },
  };
  return Object.assign(entry, extras) as unknown as ProxyMiddleware<Req, Res>;
}
