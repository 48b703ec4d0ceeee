/**
 * `--workers N` with active health checks: the checks run once, in the primary, and every
 * worker routes on the primary's verdict (remote-health.ts applies it as `active` marks), so
 * N workers send one check per target per interval and agree on which targets are up.
 * Passive health stays per worker: it is each worker's own traffic that fails.
 *
 * The primary sends the names of the targets that are down on every health change and once
 * per check interval (so a worker that started, or reloaded, in between catches up).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { DEFAULTS } from '../config/defaults.js';
import type { HealthChangeMessage, ProxyConfig, ProxyMiddleware } from '../types.js';
import { followRemoteHealth, type RemoteHealth } from '../health/remote-health.js';
import { createProxy } from './create-proxy.js';
import { isRetired, retireTargets } from './proxy-events.js';
import type { CliSettings } from './settings.js';

const TYPE = 'switchyard:health';

/** Primary → workers: the targets that are down by the primary's active checks. */
export interface HealthMessage {
  readonly type: typeof TYPE;
  readonly down: readonly string[];
}

function isHealthMessage(message: unknown): message is HealthMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === TYPE;
}

/** The config a worker's proxy is built from: no active checks of its own. */
export function withoutActiveChecks(config: ProxyConfig): ProxyConfig {
  const { healthCheck: _checkedByThePrimary, ...rest } = config;
  return rest;
}

/** The primary's checker. */
export interface SharedHealth {
  /** The verdict now, for a worker that just started. */
  message(): HealthMessage;
  /** Checks the targets of `settings` from now on. @throws CliError when `proxy()` refuses it. */
  reload(settings: CliSettings): void;
  close(): Promise<void>;
}

/**
 * Starts the primary's checks: a proxy built from the config serves no requests, only runs
 * its active checks (none without `healthCheck`: then every target is up for the workers).
 * @throws CliError when `proxy()` refuses the config.
 */
export function startSharedHealth(settings: CliSettings, broadcast: (message: HealthMessage) => void): SharedHealth {
  const build = (s: CliSettings): ProxyMiddleware | undefined =>
    s.proxyConfig.healthCheck === undefined ? undefined : createProxy(s.proxyConfig, s.configPath);
  let checker = build(settings);
  const message = (): HealthMessage => ({ type: TYPE, down: (checker?.stats() ?? []).filter((t) => !t.healthy).map((t) => t.name) });
  const send = (): void => broadcast(message());
  // Only checkers' targets change health in the primary (it serves no traffic); a replaced
  // checker releasing its marks as it closes is no verdict.
  const onChange = (m: unknown): void => {
    if (!isRetired((m as HealthChangeMessage).target)) send();
  };
  diagnosticsChannel.subscribe('switchyard:health:change', onChange);
  const every = (s: CliSettings): NodeJS.Timeout => setInterval(send, s.proxyConfig.healthCheck?.interval ?? DEFAULTS.healthCheck.interval).unref();
  let timer = every(settings);
  return {
    message,
    reload(next) {
      const fresh = build(next);
      const old = checker;
      checker = fresh;
      if (old !== undefined) {
        retireTargets(old);
        void old.close();
      }
      clearInterval(timer);
      timer = every(next);
    },
    async close() {
      clearInterval(timer);
      diagnosticsChannel.unsubscribe('switchyard:health:change', onChange);
      if (checker !== undefined) retireTargets(checker);
      await checker?.close();
    },
  };
}

/**
 * A worker's side: applies the primary's verdicts to the current proxy. `attach` is called
 * with each proxy the worker builds (at start and on reload); the last verdict is applied to
 * it at once.
 */
export function followSharedHealth(): { attach(mw: ProxyMiddleware): void } {
  let down: ReadonlySet<string> = new Set();
  let remote: RemoteHealth | undefined;
  process.on('message', (message: unknown) => {
    if (!isHealthMessage(message)) return;
    down = new Set(message.down);
    remote?.apply(down);
  });
  return {
    attach(mw) {
      remote = followRemoteHealth(mw.balancer);
      remote.apply(down);
    },
  };
}
