/**
 * The command line, parsed with node:util `parseArgs` (maintained in Node core): flags in,
 * typed values out. Nothing here reads files or knows proxy options beyond their names.
 */
import { parseArgs } from 'node:util';
import { CliError } from './cli-error.js';
import { LOG_FORMATS, type LogFormat } from './log-format.js';

/** The flags as given; `undefined` when absent, so the config file can fill them in. */
export interface CliArgs {
  readonly listen: string | undefined;
  readonly targets: readonly string[] | undefined;
  readonly balancer: string | undefined;
  readonly healthPath: string | undefined;
  readonly healthInterval: number | undefined;
  readonly retries: number | undefined;
  readonly timeout: number | undefined;
  readonly connectTimeout: number | undefined;
  readonly preserveHost: boolean;
  /** `--header-up` values as given: `'Name: value'` or `'-Name'`. */
  readonly headerUp: readonly string[] | undefined;
  readonly headerDown: readonly string[] | undefined;
  readonly ws: boolean;
  readonly http2: boolean;
  /** `--tls-ca`: a PEM file path. */
  readonly tlsCa: string | undefined;
  readonly insecure: boolean;
  /** `--discover <name>` and its companions: DNS discovery. */
  readonly discover: string | undefined;
  readonly discoverType: string | undefined;
  readonly discoverPort: number | undefined;
  readonly discoverScheme: string | undefined;
  readonly discoverInterval: number | undefined;
  readonly dnsServers: readonly string[] | undefined;
  /** Worker processes; `'auto'` means one per available core. */
  readonly workers: number | 'auto' | undefined;
  readonly drainTimeout: number | undefined;
  readonly keepAliveTimeout: number | undefined;
  readonly config: string | undefined;
  /** `--admin [host:]port`: the admin listener. */
  readonly admin: string | undefined;
  readonly quiet: boolean;
  readonly logFormat: LogFormat;
  readonly help: boolean;
  readonly version: boolean;
}

const OPTIONS = {
  listen: { type: 'string', short: 'l' },
  target: { type: 'string', short: 't', multiple: true },
  balancer: { type: 'string', short: 'b' },
  'health-path': { type: 'string' },
  'health-interval': { type: 'string' },
  retries: { type: 'string' },
  timeout: { type: 'string' },
  'connect-timeout': { type: 'string' },
  'preserve-host': { type: 'boolean' },
  'header-up': { type: 'string', multiple: true },
  'header-down': { type: 'string', multiple: true },
  ws: { type: 'boolean' },
  http2: { type: 'boolean' },
  'tls-ca': { type: 'string' },
  insecure: { type: 'boolean' },
  discover: { type: 'string' },
  'discover-type': { type: 'string' },
  'discover-port': { type: 'string' },
  'discover-scheme': { type: 'string' },
  'discover-interval': { type: 'string' },
  'dns-server': { type: 'string', multiple: true },
  workers: { type: 'string', short: 'w' },
  'drain-timeout': { type: 'string' },
  'keep-alive-timeout': { type: 'string' },
  config: { type: 'string', short: 'c' },
  admin: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  'log-format': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

const HELP_HINT = 'run switchyard --help for usage';

/**
 * A numeric flag. Only the syntax is checked here; ranges are checked by `proxy()`, whose
 * message names the option (`switchyard: retries must be an integer >= 0 …`).
 */
function numberFlag(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+(\.\d+)?$/.test(value.trim())) {
    throw new CliError(`switchyard: --${flag} must be a number, got ${JSON.stringify(value)}; ${HELP_HINT}`);
  }
  return Number(value);
}

function workersFlag(value: string | undefined): number | 'auto' | undefined {
  if (value === undefined || value === 'auto') return value;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1) {
    throw new CliError(`switchyard: --workers must be a whole number >= 1 or "auto", got ${JSON.stringify(value)}; ${HELP_HINT}`);
  }
  return n;
}

/** A flag whose value is one of `choices`. */
function choiceFlag<T extends string>(flag: string, value: string | undefined, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new CliError(`switchyard: --${flag} must be ${choices.join(' or ')}, got ${JSON.stringify(value)}; ${HELP_HINT}`);
}

/**
 * parseArgs's message, shortened to one line: its first sentence, plus its hint for values
 * that start with a dash (`--retries=-1`), which is the fix the user needs.
 */
function parseArgsMessage(err: Error): string {
  const lines = err.message.split('\n');
  const first = (lines[0] ?? '').split(/\.\s/)[0] ?? '';
  const dashHint = lines.find((line) => line.startsWith('To specify an option argument starting with a dash'));
  const parts = [first, dashHint].filter((p): p is string => p !== undefined && p !== '');
  return parts.map((p) => p.charAt(0).toLowerCase() + p.slice(1).replace(/\.$/, '')).join('; ');
}

/** Header flags whose value may start with a dash (`-Server`, Caddy's removal syntax). */
const DASH_VALUE_FLAGS: ReadonlySet<string> = new Set(['--header-up', '--header-down']);

/**
 * `--header-down -Server` as `--header-down=-Server`: parseArgs would take `-Server` for a flag,
 * and these flags always take a value, so the next word is theirs.
 */
function joinDashValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const next = argv[i + 1];
    if (DASH_VALUE_FLAGS.has(arg) && next !== undefined && next.startsWith('-') && !next.startsWith('--')) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/**
 * Parses `argv` (without the node and script paths).
 * @throws CliError (exit code 2) on an unknown flag, a missing value, a stray argument or a
 * malformed number.
 */
export function parseCliArgs(argv: readonly string[]): CliArgs {
  let values;
  try {
    ({ values } = parseArgs({ args: joinDashValues(argv), options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      throw new CliError(`switchyard: ${parseArgsMessage(err as Error)}; ${HELP_HINT}`);
    }
    throw err;
  }
  return {
    listen: values.listen,
    targets: values.target,
    balancer: values.balancer,
    healthPath: values['health-path'],
    healthInterval: numberFlag('health-interval', values['health-interval']),
    retries: numberFlag('retries', values.retries),
    timeout: numberFlag('timeout', values.timeout),
    connectTimeout: numberFlag('connect-timeout', values['connect-timeout']),
    preserveHost: values['preserve-host'] === true,
    headerUp: values['header-up'],
    headerDown: values['header-down'],
    ws: values.ws === true,
    http2: values.http2 === true,
    tlsCa: values['tls-ca'],
    insecure: values.insecure === true,
    discover: values.discover,
    discoverType: values['discover-type'],
    discoverPort: numberFlag('discover-port', values['discover-port']),
    discoverScheme: values['discover-scheme'],
    discoverInterval: numberFlag('discover-interval', values['discover-interval']),
    dnsServers: values['dns-server'],
    workers: workersFlag(values.workers),
    drainTimeout: numberFlag('drain-timeout', values['drain-timeout']),
    keepAliveTimeout: numberFlag('keep-alive-timeout', values['keep-alive-timeout']),
    config: values.config,
    admin: values.admin,
    quiet: values.quiet === true,
    logFormat: choiceFlag('log-format', values['log-format'], LOG_FORMATS, 'text'),
    help: values.help === true,
    version: values.version === true,
  };
}
