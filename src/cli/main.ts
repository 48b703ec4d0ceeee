/**
 * The `switchyard` command: parse flags, load the config, then serve in this process, or as
 * the primary of `--workers N` processes, or as one of those workers.
 */
import cluster from 'node:cluster';
import { parseCliArgs } from './args.js';
import { CliError } from './cli-error.js';
import { runPrimary } from './cluster.js';
import { stopOnSignals } from './lifecycle.js';
import { processLog, type Log } from './log.js';
import { startServer } from './serve.js';
import { resolveSettings, type CliSettings } from './settings.js';
import { formatSummary } from './summary.js';
import { USAGE } from './usage.js';
import { VERSION } from './version.js';

async function serve(settings: CliSettings, log: Log): Promise<void> {
  const prefix = cluster.isWorker ? `w${cluster.worker?.id ?? '?'} ` : '';
  const server = await startServer(settings, log, { logPrefix: prefix });
  // In a cluster the primary prints the summary once, for all workers.
  if (cluster.isWorker) {
    log.info(`${prefix}listening (pid ${process.pid})`);
  } else {
    const targets = server.middleware.balancer.targets;
    // One write, so the summary is never interleaved with request lines.
    log.info(formatSummary({ ...settings, listen: server.address, targets }).join('\n'));
  }
  stopOnSignals(server, log, prefix);
}

/** Runs the command with `argv` (flags only). Resolves once serving has started. */
async function main(argv: readonly string[], log: Log): Promise<void> {
  const args = parseCliArgs(argv);
  if (args.help) return log.info(USAGE.trimEnd());
  if (args.version) return log.info(VERSION);
  const settings = await resolveSettings(args);
  if (cluster.isPrimary && settings.workers > 1) return runPrimary(settings, log);
  return serve(settings, log);
}

main(process.argv.slice(2), processLog).catch((err: unknown) => {
  if (err instanceof CliError) {
    processLog.error(err.message);
    process.exit(err.exitCode);
  }
  processLog.error(`switchyard: unexpected error: ${(err as Error)?.stack ?? String(err)}`);
  process.exit(1);
});
