/** `proxy(config)`: composes the modules into one middleware and owns what they create. */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { targetStats } from './balancer/target.js';
import { normalizeConfig } from './config/normalize-config.js';
import { createRequestHandler } from './handle-request.js';
import { createAgents } from './transport/agent.js';
import { createForwarder } from './transport/forwarder.js';
import type { ProxyConfig, ProxyMiddleware } from './types.js';

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
  let closed: Promise<void> | undefined;

  const extras = {
    balancer: cfg.balancer,
    stats: () => cfg.balancer.targets.map(targetStats),
    upgrade(_req: IncomingMessage, socket: Duplex, _head: Buffer): void {
      // WebSocket proxying is not available yet (ws: true is refused by proxy()).
      socket.end('HTTP/1.1 501 Not Implemented\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    },
    close(): Promise<void> {
      state.closed = true;
      closed ??= Promise.resolve().then(() => {
        forwarder.close();
        agents.destroy();
      });
      return closed;
    },
  };
  return Object.assign(handle, extras) as ProxyMiddleware;
}
