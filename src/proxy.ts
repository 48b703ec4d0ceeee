/** `proxy(config)`: composes the modules into one middleware and owns what they create. */
import { targetStats } from './balancer/target.js';
import { normalizeConfig } from './config/normalize-config.js';
import { createRequestHandler } from './handle-request.js';
import { startActiveHealth } from './health/active.js';
import { createAgents } from './transport/agent.js';
import { createForwarder } from './transport/forwarder.js';
import { createUpgradeForwarder } from './transport/upgrade-forwarder.js';
import type { ProxyConfig, ProxyMiddleware } from './types.js';
import { createUpgradeHandler, refuseUpgrade } from './websocket/handle-upgrade.js';
import { createSocketRegistry } from './websocket/socket-registry.js';

/**
 * Creates the proxy middleware. Everything is validated and compiled here, once: an invalid
 * option throws a `TypeError` naming it.
 *
 * @example
 * app.use('/api', proxy({ targets: ['http://127.0.0.1:3001', 'http://127.0.0.1:3002'] }));
 */
export function proxy(config: ProxyConfig): ProxyMiddleware {
  const cfg = normalizeConfig(config);
  const agents = createAgents(cfg.pool, cfg.tls, cfg.agent);
  const forwarder = createForwarder({
    agents,
    timeout: cfg.timeout,
    connectTimeout: cfg.connectTimeout,
    verifyTls: cfg.tls.verify,
  });
  const state = { closed: false };
  const handle = createRequestHandler(cfg, forwarder, state);
  // ws off: nothing is created, and an upgrade is answered 501 (see docs/websockets.md).
  const tunnels = cfg.ws ? createSocketRegistry() : undefined;
  const upgrade = tunnels === undefined ? refuseUpgrade : createUpgradeHandler(
    cfg,
    createUpgradeForwarder({ agents, timeout: cfg.timeout, connectTimeout: cfg.connectTimeout, verifyTls: cfg.tls.verify }),
    tunnels,
    state,
  );
  const active = cfg.healthCheck === undefined ? undefined : startActiveHealth(cfg.balancer, cfg.healthCheck, cfg.tls);
  let closed: Promise<void> | undefined;

  const extras = {
    balancer: cfg.balancer,
    stats: () => cfg.balancer.targets.map(targetStats),
    upgrade,
    close(): Promise<void> {
      state.closed = true;
      closed ??= Promise.resolve().then(() => {
        forwarder.close();
        agents.destroy();
        tunnels?.closeAll();
        cfg.passive?.close();
        return active?.close();
      });
      return closed;
    },
  };
  return Object.assign(handle, extras) as ProxyMiddleware;
}
