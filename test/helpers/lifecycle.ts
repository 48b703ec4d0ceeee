/**
 * Per-test cleanup: everything a test opens (proxies, servers, agents, clients) is registered
 * as it is created and released after that test, even when it fails.
 *
 * ```ts
 * const { track, proxyFor } = useCleanup();   // at the top of the file: one afterEach
 *
 * it('…', async () => {
 *   const up = track(await startUpstream());
 *   const mw = proxyFor({ targets: up.url });
 *   const front = track(await listen(express().use('/api', mw)));
 * });
 * ```
 */
import http from 'node:http';
import { afterEach } from 'vitest';
import { proxy, type ProxyConfig, type ProxyMiddleware } from '../../src/index.js';

export interface CleanupOptions {
  /**
   * Start every cleanup at once and await them together, rather than one after another.
   * Either way the newest is started first. @default false
   */
  parallel?: boolean;
}

export interface Cleanup {
  /** Runs `fn` after the current test. */
  defer(fn: () => unknown): void;
  /** Calls `thing.close()` after the current test; returns `thing`. */
  track<T extends { close(): unknown }>(thing: T): T;
  /** `proxy(config)`, closed after the current test. */
  proxyFor(config: ProxyConfig): ProxyMiddleware;
  /** A keep-alive `http.Agent` (a long run of requests reuses its connections), destroyed after the current test. */
  keepAliveAgent(): http.Agent;
}

/**
 * Registers an `afterEach` (where it is called: at the top of a file, or in a `describe`) that
 * runs what the test deferred, newest first; returns the functions to defer with.
 */
export function useCleanup(opts: CleanupOptions = {}): Cleanup {
  const pending: Array<() => unknown> = [];
  afterEach(async () => {
    const fns = pending.splice(0).reverse();
    if (opts.parallel === true) {
      await Promise.all(fns.map((fn) => fn()));
      return;
    }
    for (const fn of fns) await fn();
  });
  const defer = (fn: () => unknown): void => {
    pending.push(fn);
  };
  const track = <T extends { close(): unknown }>(thing: T): T => {
    defer(() => thing.close());
    return thing;
  };
  return {
    defer,
    track,
    proxyFor: (config) => track(proxy(config)),
    keepAliveAgent() {
      const agent = new http.Agent({ keepAlive: true });
      defer(() => agent.destroy());
      return agent;
    },
  };
}
