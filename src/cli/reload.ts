/**
 * `SIGHUP` reloads `--config` (and re-applies the flags on top): a new proxy serves new
 * requests, the old one finishes what it started (serve.ts, proxy-slots.ts). A config that
 * cannot be loaded or that `proxy()` refuses is logged and the running one kept.
 */
import { CliError } from './cli-error.js';
import type { Log } from './log.js';
import type { RunningServer } from './serve.js';
import type { CliSettings } from './settings.js';

/** The IPC message the cluster primary forwards SIGHUP to its workers with. */
export const RELOAD_MESSAGE = 'switchyard:reload';

/**
 * Reloads `server` from `reread()` on every SIGHUP (or the primary's reload message). Reloads
 * never overlap: a SIGHUP during one runs one more afterwards. Returns the function that
 * triggers a reload (the handlers call it; so can tests).
 */
export function reloadOnSignal(
  server: RunningServer,
  initial: CliSettings,
  reread: () => Promise<CliSettings>,
  log: Log,
  prefix = '',
): (why: string) => void {
  let running = false;
  let again: string | undefined;

  const reload = async (why: string): Promise<void> => {
    try {
      const next = await reread();
      const mw = server.reload(next);
      const names = mw.balancer.targets.map((t) => t.name).join(', ');
      log.info(`${prefix}${why}: reloaded ${next.configPath ?? 'the flags'}; targets ${names === '' ? 'none yet' : names}`);
      if (next.listen.host !== initial.listen.host || next.listen.port !== initial.listen.port) {
        log.error(`${prefix}${why}: listen changed in the config; it applies at the next restart`);
      }
    } catch (err) {
      const message = err instanceof CliError ? err.message : ((err as Error)?.stack ?? String(err));
      log.error(`${prefix}${why}: reload refused, the running config is kept: ${message}`);
    }
  };

  const trigger = (why: string): void => {
    if (running) {
      again = why;
      return;
    }
    running = true;
    void reload(why).then(() => {
      running = false;
      const queued = again;
      again = undefined;
      if (queued !== undefined) trigger(queued);
    });
  };

  process.on('SIGHUP', () => trigger('SIGHUP'));
  if (process.send !== undefined) {
    process.on('message', (message: unknown) => {
      if (message === RELOAD_MESSAGE) trigger('SIGHUP');
    });
  }
  return trigger;
}
