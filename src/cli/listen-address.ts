/** `--listen` / config `listen`: a port, `:port`, `host:port` or `[ipv6]:port`. */
import { CliError } from './cli-error.js';

/** Where the server listens. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** Loopback unless the user asks for more: exposing a proxy should be a decision. */
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8080;

const EXAMPLE = 'e.g. 8080, 127.0.0.1:8080 or [::1]:8080';

function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

/**
 * Parses a listen address. `where` names its source in the error (`--listen`, or
 * `listen in switchyard.config.json`).
 * @throws CliError (exit code 2) when it is not a port or host:port.
 */
export function parseListenAddress(value: unknown, where: string): ListenAddress {
  const invalid = (): CliError => new CliError(`switchyard: ${where} must be a port or host:port, ${EXAMPLE}; got ${JSON.stringify(value)}`);
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0 || value > 65535) throw invalid();
    return { host: DEFAULT_HOST, port: value };
  }
  if (typeof value !== 'string') throw invalid();
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value);
  const port = match === null ? undefined : parsePort(match[3] as string);
  if (match === null || port === undefined) throw invalid();
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? DEFAULT_HOST : host, port };
}

/** `http://127.0.0.1:8080`, `http://[::1]:8080`. */
export function formatOrigin(address: ListenAddress): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `http://${host}:${address.port}`;
}
