/**
 * The flags that map onto `proxy()` options, in the command line's own syntax: `header:X-Name`
 * for `{ header: 'X-Name' }`, `--header-up 'Name: value'` / `'-Name'` for header rules (Caddy's
 * `header_up` / `header_down`). A flag's syntax errors name the flag; values are validated by
 * `proxy()`, so its messages stay the one source.
 */
import type { BalancerOption, DiscoverOptions, HealthCheckOptions, HeaderRules, ProxyConfig, TlsOptions } from '../types.js';
import type { CliArgs } from './args.js';
import { CliError } from './cli-error.js';

const POLICIES: ReadonlySet<string> = new Set(['round_robin', 'random', 'first', 'least_conn', 'ip_hash', 'uri_hash']);
const BALANCER_HELP = 'round_robin, random, first, least_conn, ip_hash, uri_hash, header:<Name> or cookie:<name>';
/** RFC 9110 token: what a header name (and a cookie name) may be. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * `--balancer`: a policy name, `header:X-Name` or `cookie:name`.
 * @throws CliError naming the flag and its spellings.
 */
export function parseBalancerFlag(value: string): BalancerOption {
  if (POLICIES.has(value)) return value as BalancerOption;
  const colon = value.indexOf(':');
  const kind = value.slice(0, colon);
  const name = value.slice(colon + 1);
  if (kind === 'header' || kind === 'cookie') {
    if (TOKEN.test(name)) return kind === 'header' ? { header: name } : { cookie: name };
    const spelled = kind === 'header' ? 'header:<Name>, e.g. --balancer header:X-User-Id' : 'cookie:<name>, e.g. --balancer cookie:lb';
    throw new CliError(`switchyard: --balancer ${spelled}; got ${JSON.stringify(value)}, which has ${name === '' ? 'no name' : 'an invalid name'}`);
  }
  throw new CliError(`switchyard: --balancer must be ${BALANCER_HELP}; got ${JSON.stringify(value)}`);
}

/**
 * `--header-up` / `--header-down`: `'Name: value'` sets (the value may hold placeholders such as
 * `{addr}`), `'-Name'` removes.
 * @throws CliError for anything else.
 */
export function parseHeaderFlag(flag: string, value: string): [name: string, value: string | null] {
  if (value.startsWith('-') && TOKEN.test(value.slice(1))) return [value.slice(1), null];
  const colon = value.indexOf(':');
  const name = value.slice(0, colon).trim();
  if (colon > 0 && TOKEN.test(name)) return [name, value.slice(colon + 1).trim()];
  throw new CliError(
    `switchyard: --${flag} must be 'Name: value' (set) or '-Name' (remove), e.g. --${flag} 'X-Real-Ip: {addr}'; got ${JSON.stringify(value)}`,
  );
}

/** The file's rules with the flags' on top; a flag replaces a rule for the same name in any letter case. */
function withHeaderFlags(base: HeaderRules | undefined, flag: string, values: readonly string[] | undefined): HeaderRules | undefined {
  if (values === undefined) return base;
  const rules: HeaderRules = {};
  const parsed = values.map((v) => parseHeaderFlag(flag, v));
  const overridden = new Set(parsed.map(([name]) => name.toLowerCase()));
  // A non-object `headers` in the file is replaced; proxy() validates what results.
  if (typeof base === 'object' && base !== null) {
    for (const [name, rule] of Object.entries(base)) if (!overridden.has(name.toLowerCase())) rules[name] = rule;
  }
  for (const [name, value] of parsed) rules[name] = value;
  return rules;
}

function withHealthFlags(base: ProxyConfig['healthCheck'], args: CliArgs): HealthCheckOptions | undefined {
  if (args.healthPath === undefined && args.healthInterval === undefined) return base;
  // A non-object `healthCheck` in the file is replaced; proxy() validates what results.
  const from = typeof base === 'object' && base !== null ? base : undefined;
  return {
    ...from,
    ...(args.healthPath !== undefined && { path: args.healthPath }),
    ...(args.healthInterval !== undefined && { interval: args.healthInterval }),
  } as HealthCheckOptions;
}

function withTlsFlags(base: TlsOptions | undefined, args: CliArgs, ca: string | undefined): TlsOptions | undefined {
  if (ca === undefined && !args.insecure) return base;
  const from = typeof base === 'object' && base !== null ? base : undefined;
  return { ...from, ...(ca !== undefined && { ca }), ...(args.insecure && { verify: false }) };
}

/** The discover flags (value checks are `proxy()`'s: its messages name `discover.type` etc.). */
function withDiscoverFlags(base: ProxyConfig['discover'], args: CliArgs): DiscoverOptions | undefined {
  const given =
    args.discover !== undefined || args.discoverType !== undefined || args.discoverPort !== undefined ||
    args.discoverScheme !== undefined || args.discoverInterval !== undefined || args.dnsServers !== undefined;
  if (!given) return base;
  const from = typeof base === 'object' && base !== null ? base : undefined;
  if (args.discover === undefined && from === undefined) {
    throw new CliError('switchyard: --discover-type, --discover-port, --discover-scheme, --discover-interval and --dns-server need --discover <name>, e.g. --discover api.internal');
  }
  return {
    ...from,
    ...(args.discover !== undefined && { dns: args.discover }),
    ...(args.discoverType !== undefined && { type: args.discoverType }),
    ...(args.discoverPort !== undefined && { port: args.discoverPort }),
    ...(args.discoverScheme !== undefined && { scheme: args.discoverScheme }),
    ...(args.discoverInterval !== undefined && { interval: args.discoverInterval }),
    ...(args.dnsServers !== undefined && { servers: [...args.dnsServers] }),
  } as DiscoverOptions;
}

/**
 * Applies the proxy flags on top of the file's options (a new object; neither is modified).
 * @param tlsCa the contents of `--tls-ca`, read by the caller.
 * @throws CliError for a `--balancer` or header flag the CLI cannot read.
 */
export function mergeProxyFlags(fileConfig: ProxyConfig, args: CliArgs, tlsCa?: string): ProxyConfig {
  const config: ProxyConfig = { ...fileConfig };
  if (args.targets !== undefined) config.targets = [...args.targets];
  if (args.balancer !== undefined) config.balancer = parseBalancerFlag(args.balancer);
  if (args.retries !== undefined) config.retries = args.retries;
  if (args.timeout !== undefined) config.timeout = args.timeout;
  if (args.connectTimeout !== undefined) config.connectTimeout = args.connectTimeout;
  if (args.preserveHost) config.preserveHost = true;
  if (args.ws) config.ws = true;
  if (args.http2) config.http2 = true;
  const healthCheck = withHealthFlags(fileConfig.healthCheck, args);
  if (healthCheck !== undefined) config.healthCheck = healthCheck;
  const headers = withHeaderFlags(fileConfig.headers, 'header-up', args.headerUp);
  if (headers !== undefined) config.headers = headers;
  const responseHeaders = withHeaderFlags(fileConfig.responseHeaders, 'header-down', args.headerDown);
  if (responseHeaders !== undefined) config.responseHeaders = responseHeaders;
  const tls = withTlsFlags(fileConfig.tls, args, tlsCa);
  if (tls !== undefined) config.tls = tls;
  const discover = withDiscoverFlags(fileConfig.discover, args);
  if (discover !== undefined) config.discover = discover;
  return config;
}
