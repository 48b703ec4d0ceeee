/**
 * How a serving process stops: the first SIGINT/SIGTERM (or the primary's shutdown message,
 * for a worker) drains; a second signal cuts every connection. The exit code says whether
 * everything drained in time.
 */
import type { Log } from './log.js';
import type { RunningServer } from './serve.js';

/** Messages the cluster primary sends its workers over IPC. */
export const SHUTDOWN_MESSAGE = 'switchyard:shutdown';
export const FORCE_MESSAGE = 'switchyard:force';

/**
 * Installs the signal handlers (and, in a cluster worker, the IPC message handler) that stop
 * `server` and exit the process: 0 when drained, 1 when the drain timeout cut requests off.
 */
export function stopOnSignals(server: RunningServer, log: Log, prefix = ''): void {
  let signals = 0;
  let stopping = false;
  let forced = false;
  const force = (): void => {
    forced = true;
    log.info(`${prefix}closing all connections now`);
    server.forceClose();
  };
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    // shutdown() stops accepting before it returns, so the line below is already true.
    const done = server.shutdown();
    log.info(`${prefix}${why}: stopped accepting connections; draining ${server.inFlight()} request(s) in flight`);
    done.then(
      (drained) => {
        const clean = drained && !forced;
        log.info(clean ? `${prefix}stopped` : `${prefix}closed connections of requests still in flight`);
        process.exit(clean ? 0 : 1);
      },
      (err: unknown) => {
        log.error(`switchyard: shutdown failed: ${(err as Error).stack ?? String(err)}`);
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) force();
    else stop(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (process.send !== undefined) {
    process.on('message', (message: unknown) => {
      if (message === SHUTDOWN_MESSAGE) stop('shutdown requested by the primary');
      else if (message === FORCE_MESSAGE) force();
    });
  }
}
