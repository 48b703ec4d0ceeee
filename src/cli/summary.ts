/** The start-up summary: where we listen and what the proxy will do, in a few aligned lines. */
import { DEFAULTS } from '../config/defaults.js';
import type { BalancerOption, DiscoverOptions, ProxyConfig, ProxyTarget } from '../types.js';
import { formatOrigin, type ListenAddress } from './listen-address.js';
import { VERSION } from './version.js';

/** What the summary describes. */
export interface SummaryInput {
  readonly listen: ListenAddress;
  readonly targets: readonly ProxyTarget[];
  readonly proxyConfig: ProxyConfig;
  readonly workers: number;
  readonly configPath: string | undefined;
  /** The admin listener's bound address, when `--admin` is on. */
  readonly admin?: ListenAddress | undefined;
}

function describeBalancer(balancer: BalancerOption | undefined): string {
  if (balancer === undefined) return DEFAULTS.balancer;
  if (typeof balancer === 'string') return balancer;
  if ('next' in balancer) return 'custom Balancer';
  return 'header' in balancer ? `header ${balancer.header}` : `cookie ${balancer.cookie}`;
}

function describeHealth(config: ProxyConfig): string {
  const hc = config.healthCheck;
  const active = hc === undefined ? 'off' : `GET ${hc.path} every ${hc.interval ?? DEFAULTS.healthCheck.interval}ms`;
  return config.passive === undefined ? active : `${active}; passive on`;
}

/** `A/AAAA api.internal port 8080 every 30000ms`, for the summary's `discover` line. */
function describeDiscover(d: DiscoverOptions): string {
  const parts = [d.type ?? 'A/AAAA', d.dns];
  if (d.port !== undefined) parts.push(`port ${d.port}`);
  if (d.scheme === 'https') parts.push('https');
  parts.push(`every ${d.interval ?? DEFAULTS.discover.interval}ms`);
  if (d.servers !== undefined) parts.push(`via ${d.servers.join(', ')}`);
  return parts.join(' ');
}

function describeTarget(target: ProxyTarget): string {
  const url = target.url.href.replace(/\/$/, '');
  if (target.socketPath !== undefined) {
    // `unix:/run/app.sock` as given, or the URL (Host and prefix) it is reached through.
    const via = url === 'http://localhost' ? `unix:${target.socketPath}` : `${url} via unix:${target.socketPath}`;
    return target.name === target.socketPath ? via : `${via} (${target.name})`;
  }
  return target.name === target.url.host ? url : `${url} (${target.name})`;
}

/** The summary's lines, first one `switchyard <version> listening on <origin>`. */
export function formatSummary(input: SummaryInput): string[] {
  const { proxyConfig: config } = input;
  const targets = input.targets.length === 0 ? ['none yet'] : input.targets.map(describeTarget);
  const lines = [
    `switchyard ${VERSION} listening on ${formatOrigin(input.listen)}`,
    ...targets.map((t, i) => `  ${i === 0 ? 'targets ' : '        '}  ${t}`),
    ...(config.discover === undefined ? [] : [`  discover  ${describeDiscover(config.discover)}`]),
    `  balancer  ${describeBalancer(config.balancer)}`,
    `  retries   ${config.retries ?? DEFAULTS.retries}`,
    `  health    ${describeHealth(config)}`,
    `  workers   ${input.workers === 1 ? `1 (pid ${process.pid})` : `${input.workers} (primary pid ${process.pid}); active health checks in the primary, passive per worker`}`,
  ];
  if (input.admin !== undefined) lines.push(`  admin     ${formatOrigin(input.admin)} (/metrics, /stats, /healthz)`);
  if (input.configPath !== undefined) lines.push(`  config    ${input.configPath}`);
  return lines;
}
