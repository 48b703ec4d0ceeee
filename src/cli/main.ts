/**
 * The `switchyard` command: parse flags, load the config, then serve in this process, or as
 * the primary of `--workers N` processes, or as one of those workers.
 */
import cluster from 'node:cluster';
import { proxySource, startAdminServer } from './admin-server.js';
import { parseCliArgs } from './args.js';
import { CliError } from './cli-error.js';
import { answerAdminRequests } from './cluster-admin.js';
import { runPrimary } from './cluster.js';
import { stopOnSignals } from './lifecycle.js';
import { createLog, processLog, type Log } from './log.js';
import { subscribeProxyEvents } from './proxy-events.js';
import { reloadOnSignal } from './reload.js';
import { followSharedHealth } from './shared-health.js';
import { startServer } from './serve.js';
import { resolveSettings, type CliSettings } from './settings.js';
import { formatSummary } from './summary.js';
import { USAGE } from './usage.js';
import { VERSION } from './version.js';

async function serve(settings: CliSettings, log: Log, reread: () => Promise<CliSettings>): Promise<void> {
  const worker = cluster.isWorker ? cluster.worker?.id : undefined;
  // Text lines name the worker in a prefix; JSON lines carry it as a field (createLog's base).
  const prefix = worker !== undefined && log.format === 'text' ? `w${worker} ` : '';
  const textWorker = log.format === 'text' ? worker : undefined;
  subscribeProxyEvents(log, { requests: !settings.quiet, worker: textWorker, passiveOnly: worker !== undefined });
  // A worker routes on the primary's active checks (shared-health.ts).
  const shared = worker === undefined ? undefined : followSharedHealth();
  const server = await startServer(settings, log, { worker: textWorker, sharedHealth: shared !== undefined, onProxy: shared?.attach });
  if (worker !== undefined) answerAdminRequests(server.middleware);
  // Before the "listening" lines: whoever waits for them may signal at once.
  stopOnSignals(server, log, prefix);
  reloadOnSignal(server, settings, reread, log, prefix);
  // In a cluster the primary prints the summary once, for all workers.
  if (cluster.isWorker) {
    log.info(`${prefix}listening (pid ${process.pid})`);
  } else {
    const admin = settings.admin === undefined ? undefined : await startAdminServer(settings.admin, proxySource(server.middleware), log);
    const targets = server.middleware().balancer.targets;
    // One write, so the summary is never interleaved with request lines.
    log.info(formatSummary({ ...settings, listen: server.address, targets, admin: admin?.address }).join('\n'));
  }
}

let log: Log = processLog;

/** Runs the command with `argv` (flags only). Resolves once serving has started. */
async function main(argv: readonly string[]): Promise<void> {
  const args = parseCliArgs(argv);
  if (args.help) return log.info(USAGE.trimEnd());
  if (args.version) return log.info(VERSION);
  const worker = cluster.isWorker ? cluster.worker?.id : undefined;
  log = createLog(args.logFormat, worker === undefined ? undefined : { worker });
  const reread = (): Promise<CliSettings> => resolveSettings(args, process.cwd(), { fresh: true });
  const settings = await resolveSettings(args);
  if (cluster.isPrimary && settings.workers > 1) return runPrimary(settings, log, reread);
  return serve(settings, log, reread);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof CliError) {
    log.error(err.message);
    process.exit(err.exitCode);
  }
  log.error(`switchyard: unexpected error: ${(err as Error)?.stack ?? String(err)}`);
  process.exit(1);
});
