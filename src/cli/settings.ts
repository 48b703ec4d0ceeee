/**
 * Flags and the config file → one settings object. Flags override the file; the proxy options
 * are handed to `proxy()` unvalidated beyond their syntax, so its messages stay the one source.
 */
import { availableParallelism } from 'node:os';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ProxyConfig } from '../types.js';
import type { CliArgs } from './args.js';
import { CliError } from './cli-error.js';
import { DEFAULT_HOST, DEFAULT_PORT, parseListenAddress, type ListenAddress } from './listen-address.js';
import { loadConfigFile } from './load-config.js';
import { mergeProxyFlags } from './proxy-flags.js';
import type { LogFormat } from './log-format.js';

/** Everything the CLI needs to run. */
export interface CliSettings {
  readonly listen: ListenAddress;
  /** Processes serving the port: 1 means no cluster. @default 1 */
  readonly workers: number;
  /** Ms to wait for requests in flight on shutdown. @default 10000 */
  readonly drainTimeout: number;
  /**
   * Ms an idle client connection is kept open (`server.keepAliveTimeout`); Node's 5000 when
   * not given. Behind a load balancer, set it above the balancer's idle timeout.
   */
  readonly keepAliveTimeout: number | undefined;
  /** No per-request log lines. @default false */
  readonly quiet: boolean;
  /** `--log-format`: `text` lines or one JSON object per line. @default 'text' */
  readonly logFormat: LogFormat;
  /** `--admin`: where `/metrics`, `/stats` and `/healthz` listen. @default off */
  readonly admin: ListenAddress | undefined;
  /** Absolute path of the config file, when one was given. */
  readonly configPath: string | undefined;
  readonly proxyConfig: ProxyConfig;
}

export const DEFAULT_DRAIN_TIMEOUT = 10_000;

function wholeMs(flag: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new CliError(`switchyard: --${flag} must be a whole number of ms >= 0, got ${value}`);
  }
  return value;
}

function drainTimeout(value: number | undefined): number {
  return value === undefined ? DEFAULT_DRAIN_TIMEOUT : wholeMs('drain-timeout', value);
}

/** `--tls-ca <file>`: the PEM text (proxy() checks that it is PEM). */
async function readTlsCa(file: string | undefined, cwd: string): Promise<string | undefined> {
  if (file === undefined) return undefined;
  try {
    return await readFile(path.resolve(cwd, file), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`switchyard: --tls-ca ${file}: ${code === 'ENOENT' ? 'file not found' : (err as Error).message}`);
  }
}

/**
 * Resolves the settings from parsed flags, loading `--config` when given.
 * @param opts.fresh load a config module anew rather than from the module cache (a reload).
 * @throws CliError (exit code 2) for a bad config file or listen address, or no targets at all.
 */
export async function resolveSettings(args: CliArgs, cwd: string = process.cwd(), opts: { fresh?: boolean } = {}): Promise<CliSettings> {
  const file = args.config === undefined ? undefined : await loadConfigFile(args.config, cwd, opts);
  const proxyConfig = mergeProxyFlags(file?.proxyConfig ?? {}, args, await readTlsCa(args.tlsCa, cwd));
  let listen: ListenAddress = { host: DEFAULT_HOST, port: DEFAULT_PORT };
  if (args.listen !== undefined) listen = parseListenAddress(args.listen, '--listen');
  else if (file?.listen !== undefined) listen = parseListenAddress(file.listen, `listen in ${args.config}`);
  // Without a file, say which flag is missing; with one, proxy() names what the file lacks.
  if (file === undefined && proxyConfig.targets === undefined && proxyConfig.discover === undefined) {
    throw new CliError(
      'switchyard: no upstream given; pass --target http://127.0.0.1:3001 (repeat for more), --discover <dns name> or --config <file>; ' +
        'run switchyard --help for usage',
    );
  }
  return {
    listen,
    workers: args.workers === 'auto' ? availableParallelism() : (args.workers ?? 1),
    drainTimeout: drainTimeout(args.drainTimeout),
    keepAliveTimeout: args.keepAliveTimeout === undefined ? undefined : wholeMs('keep-alive-timeout', args.keepAliveTimeout),
    quiet: args.quiet,
    logFormat: args.logFormat,
    admin: args.admin === undefined ? undefined : parseListenAddress(args.admin, '--admin'),
    configPath: file?.path,
    proxyConfig,
  };
}
