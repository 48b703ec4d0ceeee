/**
 * `--workers N`: the primary process forks N workers on node:cluster; they share the
 * listening port and each runs its own proxy (with its own passive health and counters).
 * The primary starts, replaces and stops workers, runs the active health checks for all of
 * them (shared-health.ts), forwards SIGHUP, and serves `--admin` from their answers
 * (cluster-admin.ts).
 */
import cluster, { type Worker } from 'node:cluster';
import { FORCE_MESSAGE, SHUTDOWN_MESSAGE } from './lifecycle.js';
import type { Log } from './log.js';
import { startAdminServer } from './admin-server.js';
import { clusterAdminSource } from './cluster-admin.js';
import { subscribeProxyEvents } from './proxy-events.js';
import { RELOAD_MESSAGE } from './reload.js';
import { startSharedHealth, withoutActiveChecks } from './shared-health.js';
import { createProxy } from './create-proxy.js';
import type { CliSettings } from './settings.js';
import { formatSummary } from './summary.js';

/**
 * Starts the cluster primary: forks the workers, replaces any that crash, and stops them on
 * SIGINT/SIGTERM. Once every worker has exited it exits the process: 0 when all stopped
 * cleanly, 1 otherwise.
 * @throws CliError (exit code 2) when `proxy()` refuses the config: checked once here rather
 * than by N workers failing at once.
 */
export async function runPrimary(settings: CliSettings, log: Log, reread: () => Promise<CliSettings>): Promise<void> {
  // Checked here rather than by N workers failing at once. Active checks are the shared
  // checker's below, so the probe is built without them.
  const probe = createProxy(withoutActiveChecks(settings.proxyConfig), settings.configPath);
  const targets = probe.balancer.targets;
  await probe.close();

  const live = new Set<Worker>();
  const ready = new WeakSet<Worker>();
  let state: 'starting' | 'running' | 'stopping' = 'starting';
  let exitCode = 0;
  let signals = 0;

  const send = (worker: Worker, message: string | object): void => {
    if (worker.isConnected()) worker.send(message);
  };
  subscribeProxyEvents(log, { requests: false });
  const health = startSharedHealth(settings, (message) => {
    for (const worker of live) if (ready.has(worker)) send(worker, message);
  });
  const admin = settings.admin === undefined ? undefined : await startAdminServer(settings.admin, clusterAdminSource(() => live), log);
  const fork = (): void => {
    live.add(cluster.fork());
  };
  const stop = (why: string): void => {
    if (state === 'stopping') return;
    state = 'stopping';
    void health.close();
    log.info(`${why}: stopping ${live.size} worker(s)`);
    for (const worker of live) {
      // A worker still starting has no requests and no handler for the message yet.
      if (ready.has(worker)) send(worker, SHUTDOWN_MESSAGE);
      else worker.process.kill('SIGTERM');
    }
  };

  cluster.on('listening', (worker, address) => {
    ready.add(worker);
    send(worker, health.message());
    if (state === 'stopping') send(worker, SHUTDOWN_MESSAGE);
    if (state !== 'starting' || [...live].some((w) => !ready.has(w))) return;
    state = 'running';
    const listen = { host: settings.listen.host, port: address.port };
    log.info(formatSummary({ ...settings, listen, targets, admin: admin?.address }).join('\n'));
  });

  cluster.on('exit', (worker, code, signal) => {
    live.delete(worker);
    const how = signal === null ? `code ${code}` : signal;
    if (state === 'running') {
      log.error(`switchyard: worker ${worker.id} (pid ${worker.process.pid}) exited (${how}); starting a new one`);
      fork();
      return;
    }
    if (state === 'starting') {
      // A worker that cannot start (the port is taken, say) would fail again: give up.
      log.error(`switchyard: worker ${worker.id} exited during start-up (${how}); stopping`);
      exitCode = 1;
      stop('start-up failed');
    } else if (code !== 0 && code !== null) {
      exitCode = 1;
    }
    if (live.size === 0) {
      log.info(exitCode === 0 ? 'stopped' : 'stopped, not cleanly');
      process.exit(exitCode);
    }
  });

  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals === 1) return stop(signal);
    for (const worker of live) if (ready.has(worker)) send(worker, FORCE_MESSAGE);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Each worker re-reads the config itself and logs the outcome.
  process.on('SIGHUP', () => {
    if (state !== 'running') return;
    log.info(`SIGHUP: reloading ${live.size} worker(s)`);
    for (const worker of live) if (ready.has(worker)) send(worker, RELOAD_MESSAGE);
    // The primary's own health checks follow the new config; a refused one is logged by every worker.
    reread().then(
      (next) => health.reload(next),
      () => undefined,
    ).catch((err: unknown) => log.error(`SIGHUP: the primary keeps its health checks: ${(err as Error).message}`));
  });

  for (let i = 0; i < settings.workers; i++) fork();
}
