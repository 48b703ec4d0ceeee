/**
 * The live target: a {@link ProxyTarget} plus the mutable counters the proxy keeps for it.
 * Users see the readonly `ProxyTarget` view; switchyard's own modules write the counters.
 */
import type { ProxyTarget, TargetInput, TargetStats } from '../types.js';
import { DEFAULTS } from '../config/defaults.js';
import { describeValue } from '../config/describe-value.js';
import { configError, isPlainObject, unknownKeyError } from '../config/validate.js';
import { createTargetMetrics, type TargetMetrics } from '../observability/metric-counters.js';

/** Counters switchyard keeps for every target it sends to, ours or a custom balancer's. */
export interface TargetCounters {
  /** False while an active check fails or passive health has marked the target down. */
  healthy: boolean;
  /** Requests in flight right now. */
  active: number;
  /** Attempts sent. */
  requests: number;
  /** Attempts that failed. */
  failures: number;
  /** Final statuses by code; 499 counts client aborts. */
  statuses: Record<number, number>;
  /** In-flight requests allowed; `Infinity` means unlimited (`config.maxConns`). */
  maxConns: number;
  /** What `mw.metrics()` reports beyond these counters (failures by code, retries, durations). */
  readonly metrics: TargetMetrics;
}

/** A target created by switchyard: the public view plus writable counters and policy state. */
export interface LiveTarget extends ProxyTarget, TargetCounters {
  healthy: boolean;
  active: number;
  /** Smooth weighted round robin's running weight (nginx `current_weight`). */
  currentWeight: number;
  readonly socketPath: string | undefined;
}

const EXAMPLE = "'http://127.0.0.1:3001'";
const PROTOCOLS: ReadonlySet<string> = new Set(['http:', 'https:', 'ws:', 'wss:']);
const OBJECT_KEYS: readonly string[] = ['url', 'name', 'weight', 'meta', 'socketPath'];
const SOCKET_EXAMPLE = "{ url: 'http://app', socketPath: '/run/app.sock' }";
/**
 * The string form of a Unix-socket target, `'unix:/run/app.sock'`: everything after `unix:` is
 * the path, taken literally (no percent-decoding, colons allowed), so the form needs no escaping
 * rules of its own. Host, prefix and TLS need the object form.
 */
const UNIX_SCHEME = 'unix:';
/** The URL a `'unix:/path'` target stands for: the Host most local servers accept, no prefix. */
const UNIX_URL = 'http://localhost';

/** Brands targets we created, so a custom balancer's look-alike objects are never mistaken for ours. */
const LIVE = Symbol('switchyard.liveTarget');

/** Counters for targets of a custom `Balancer`: we cannot (and must not) write to the user's objects. */
const foreignCounters = new WeakMap<ProxyTarget, TargetCounters>();

/**
 * Gives `counters` their metric counters as a non-enumerable property: a target shown to the
 * user (`res.locals.target`, `console.log`, `JSON.stringify`) keeps the keys it always had.
 */
function withMetrics<T extends object>(counters: T): T & { readonly metrics: TargetMetrics } {
  return Object.defineProperty(counters, 'metrics', { value: createTargetMetrics() }) as T & { readonly metrics: TargetMetrics };
}

/** Hides credentials before a URL-ish text goes into an error message (messages end up in logs). */
function redact(text: string): string {
  return JSON.stringify(text.replace(/\/\/[^/?#]*@/, '//***@'));
}

/** `localhost:3001` parses as scheme `localhost:`; suggest the URL the user almost certainly meant. */
function schemeHint(text: string): string {
  if (text.startsWith(UNIX_SCHEME)) return ` (a Unix socket goes in socketPath, e.g. ${SOCKET_EXAMPLE})`;
  return text.includes('://') || text.startsWith('/') || text === '' ? '' : ` (did you mean ${redact(`http://${text}`)}?)`;
}

function parseUrl(value: unknown, option: string): URL {
  let text: string;
  let url: URL;
  if (value instanceof URL) {
    text = value.href;
    // Copy: the user may keep mutating their URL object; ours must not move under in-flight requests.
    url = new URL(value.href);
  } else if (typeof value === 'string') {
    text = value;
    try {
      url = new URL(value);
    } catch {
      throw configError(option, `is not a valid absolute URL, got ${redact(value)}${schemeHint(value)}`, EXAMPLE);
    }
  } else {
    throw configError(option, `must be a URL string or a URL, got ${describeValue(value)}`, EXAMPLE);
  }
  // got's and nginx's `http://unix:/run/app.sock:/prefix` parses as host `unix`: refuse it
  // rather than dial a host of that name.
  if (/^[a-z]+:\/\/unix:\//i.test(text)) {
    throw configError(option, `names a Unix socket in the http://unix:/path form, got ${redact(text)}; write 'unix:/path' or { url, socketPath }`, SOCKET_EXAMPLE);
  }
  if (!PROTOCOLS.has(url.protocol)) {
    throw configError(option, `must use http:, https:, ws: or wss:, got ${redact(text)}${schemeHint(text)}`, EXAMPLE);
  }
  if (url.username !== '' || url.password !== '') {
    throw configError(
      option,
      `must not contain a user name or password, got ${redact(text)}; send credentials with the headers option instead`,
      EXAMPLE,
    );
  }
  // The serializer percent-encodes `?` and `#` everywhere else, so their presence means a query
  // or fragment, even an empty one (`http://h/?`), which `url.search` would report as ''.
  if (url.href.includes('?')) {
    throw configError(option, `must not contain a query string, got ${redact(text)}; use the to option to add one`, EXAMPLE);
  }
  if (url.href.includes('#')) {
    throw configError(option, `must not contain a #fragment, got ${redact(text)}`, EXAMPLE);
  }
  return url;
}

/** A socket path: a non-empty string without NUL (which the OS would cut the path at). */
function checkSocketPath(value: unknown, option: string): string {
  if (typeof value !== 'string' || value === '' || value.includes('\0')) {
    const got = typeof value === 'string' ? JSON.stringify(value) : describeValue(value);
    throw configError(option, `must be a non-empty path to a Unix socket (absolute is best: a relative one is resolved from the process's working directory), got ${got}`, SOCKET_EXAMPLE);
  }
  return value;
}

/**
 * Validates a {@link TargetInput} and creates its live target.
 * @param option the option named in error messages, e.g. `'targets[1]'`.
 * @throws ConfigError naming `option` (or its key), the bad value and an example.
 */
export function createTarget(input: TargetInput, option = 'targets'): LiveTarget {
  let url: URL;
  let name: unknown;
  let weight: unknown = 1;
  let meta: unknown;
  let socketPath: string | undefined;
  if (typeof input === 'string' && input.startsWith(UNIX_SCHEME)) {
    socketPath = checkSocketPath(input.slice(UNIX_SCHEME.length), option);
    url = new URL(UNIX_URL);
  } else if (typeof input === 'string' || input instanceof URL) {
    url = parseUrl(input, option);
  } else if (isPlainObject(input)) {
    for (const key of Object.keys(input)) {
      if (!OBJECT_KEYS.includes(key)) throw unknownKeyError(option, key, OBJECT_KEYS);
    }
    url = parseUrl(input.url, `${option}.url`);
    name = input.name;
    weight = input.weight ?? 1;
    meta = input.meta;
    if (input.socketPath !== undefined) socketPath = checkSocketPath(input.socketPath, `${option}.socketPath`);
  } else {
    throw configError(option, `must be a URL string, a URL or { url, name?, weight?, meta?, socketPath? }, got ${describeValue(input)}`, EXAMPLE);
  }
  if (name !== undefined && (typeof name !== 'string' || name.trim() === '')) {
    throw configError(`${option}.name`, `must be a non-empty string, got ${describeValue(name)}`, `{ url: ${EXAMPLE}, name: 'api-1' }`);
  }
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
    throw configError(`${option}.weight`, `must be a finite number >= 0, got ${describeValue(weight)}`, `{ url: ${EXAMPLE}, weight: 2 }`);
  }
  if (meta !== undefined && !isPlainObject(meta)) {
    throw configError(`${option}.meta`, `must be a plain object, got ${describeValue(meta)}`, `{ url: ${EXAMPLE}, meta: { zone: 'a' } }`);
  }
  // Every target gets the same property order, so V8 keeps one shape for all of them.
  const target: LiveTarget = withMetrics({
    url,
    // A socket path says which upstream it is; the Host of socket targets is often the same.
    name: name ?? socketPath ?? url.host,
    weight,
    // Kept by reference (never written to) so `res.locals.target.meta` is the user's own object.
    meta: meta ?? {},
    healthy: true,
    active: 0,
    requests: 0,
    failures: 0,
    statuses: {},
    maxConns: DEFAULTS.maxConns,
    currentWeight: 0,
    socketPath,
  });
  Object.defineProperty(target, LIVE, { value: true });
  return target;
}

/** Whether `t` was created by {@link createTarget} (and so carries its own counters). */
export function isLiveTarget(t: ProxyTarget): t is LiveTarget {
  return (t as { [LIVE]?: true })[LIVE] === true;
}

/**
 * The one availability check every policy relies on: healthy, not full, not already tried,
 * and with a weight above 0 (a zero-weight target is never chosen, by any policy).
 */
export function isAvailable(t: LiveTarget, exclude?: ReadonlySet<ProxyTarget>): boolean {
  return t.healthy && t.weight > 0 && t.active < t.maxConns && (exclude === undefined || !exclude.has(t));
}

/**
 * The counters for any target: ours are their own counters; a custom balancer's targets get
 * counters kept on the side (created on first use, healthy, unlimited), so `stats()`, passive
 * health and `active` counting work whatever balancer is in use.
 */
export function countersOf(t: ProxyTarget): TargetCounters {
  if (isLiveTarget(t)) return t;
  let counters = foreignCounters.get(t);
  if (counters === undefined) {
    counters = withMetrics({ healthy: true, active: 0, requests: 0, failures: 0, statuses: {}, maxConns: DEFAULTS.maxConns });
    foreignCounters.set(t, counters);
  }
  return counters;
}

/**
 * A `stats()` entry for `t`. A custom balancer's target is healthy only when both it and our
 * side counters say so. `statuses` is copied so callers cannot change our counters.
 */
export function targetStats(t: ProxyTarget): TargetStats {
  const c = countersOf(t);
  return {
    name: t.name,
    url: t.url.href,
    healthy: isLiveTarget(t) ? c.healthy : t.healthy && c.healthy,
    active: c.active,
    requests: c.requests,
    failures: c.failures,
    statuses: { ...c.statuses },
  };
}

/** Counts one final status (499 for a client that went away) on `target`. */
export function recordStatus(target: ProxyTarget, status: number): void {
  const statuses = countersOf(target).statuses;
  statuses[status] = (statuses[status] ?? 0) + 1;
}
