/**
 * `mw.metrics()`: the Prometheus text exposition format 0.0.4 of one middleware, built from the
 * counters the request path already keeps (balancer/target.ts, observability/metric-counters.ts).
 * All formatting happens here, when a scraper asks; the request path only counts.
 *
 * Names follow Prometheus conventions (a `switchyard_` prefix, `_total` counters, seconds) and
 * what operators know from Envoy (`upstream_rq_xx`, per-cluster retries and in-flight requests)
 * and Caddy (`caddy_reverse_proxy_upstreams_healthy`). Only the target's name labels a series
 * (no method, path or status code), so cardinality is fixed: 31 series per target (5 status
 * classes, 7 failure codes and 14 histogram lines among them) and 7 for the middleware.
 * The series of a target appear when it is added and disappear when it is removed.
 * Documented in docs/recipes/metrics.md.
 */
import { countersOf, targetStats } from '../balancer/target.js';
import type { ProxyTarget } from '../types.js';
import { DURATION_BUCKETS, ERROR_CODES, FAILURE_CODES, type MiddlewareMetrics } from './metric-counters.js';

const STATUS_CLASSES: readonly string[] = ['1xx', '2xx', '3xx', '4xx', '5xx'];
/** `stats()` counts a client that went away as status 499 (nginx's convention). */
const CLIENT_ABORT = 499;

/** A label value as the format wants it: backslash, double quote and line feed escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** A sample value: integers as they are, `+Inf`/`-Inf`/`NaN` spelled as the format does. */
function formatValue(n: number): string {
  if (Number.isFinite(n)) return String(n);
  if (Number.isNaN(n)) return 'NaN';
  return n > 0 ? '+Inf' : '-Inf';
}

/** What one target contributes, read once per `metrics()` call. */
interface TargetSnapshot {
  readonly label: string;
  readonly requests: number;
  readonly active: number;
  readonly healthy: boolean;
  readonly classes: readonly number[];
  readonly aborts: number;
  readonly retries: number;
  readonly failures: Float64Array;
  readonly durations: Float64Array;
  readonly durationSum: number;
}

function snapshot(t: ProxyTarget): TargetSnapshot {
  const stats = targetStats(t);
  const m = countersOf(t).metrics;
  const classes = [0, 0, 0, 0, 0];
  let aborts = 0;
  for (const [code, count] of Object.entries(stats.statuses)) {
    const status = Number(code);
    if (status === CLIENT_ABORT) aborts += count;
    else if (status >= 100 && status < 600) (classes[Math.floor(status / 100) - 1] as number) += count;
  }
  return {
    label: `target="${escapeLabelValue(t.name)}"`,
    requests: stats.requests,
    active: stats.active,
    healthy: stats.healthy,
    classes,
    aborts,
    retries: m.retries,
    failures: m.failures,
    durations: m.durations,
    durationSum: m.durationSum,
  };
}

function family(out: string[], name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
}

function perTarget(out: string[], targets: readonly TargetSnapshot[], name: string, value: (t: TargetSnapshot) => number): void {
  for (const t of targets) out.push(`${name}{${t.label}} ${formatValue(value(t))}`);
}

/** One series per target and value of a second label (`status_class`, `code`). */
function perTargetBy(
  out: string[],
  targets: readonly TargetSnapshot[],
  name: string,
  label: string,
  values: readonly string[],
  count: (t: TargetSnapshot, i: number) => number,
): void {
  for (const t of targets) values.forEach((v, i) => out.push(`${name}{${t.label},${label}="${v}"} ${formatValue(count(t, i))}`));
}

function histogram(out: string[], name: string, t: TargetSnapshot): void {
  let cumulative = 0;
  for (let i = 0; i <= DURATION_BUCKETS.length; i++) {
    cumulative += t.durations[i] as number;
    const le = i < DURATION_BUCKETS.length ? String(DURATION_BUCKETS[i]) : '+Inf';
    out.push(`${name}_bucket{${t.label},le="${le}"} ${cumulative}`);
  }
  out.push(`${name}_sum{${t.label}} ${formatValue(t.durationSum)}`, `${name}_count{${t.label}} ${cumulative}`);
}

/** The exposition of `targets` (the balancer's, as they are now) and of the middleware's own counters. */
export function renderMetrics(targets: readonly ProxyTarget[], mw: MiddlewareMetrics): string {
  const ts = targets.map(snapshot);
  const out: string[] = [];

  family(out, 'switchyard_upstream_requests_total', 'counter', 'Requests sent to each target, one per attempt, retries included.');
  perTarget(out, ts, 'switchyard_upstream_requests_total', (t) => t.requests);

  family(out, 'switchyard_upstream_retries_total', 'counter', 'Attempts sent to each target that were retries of a request (attempt 2 or later).');
  perTarget(out, ts, 'switchyard_upstream_retries_total', (t) => t.retries);

  family(
    out,
    'switchyard_responses_total',
    'counter',
    "Responses to clients by the target that ended the request and status class; a failure answered by the proxy (502, 504) counts on the last target tried.",
  );
  perTargetBy(out, ts, 'switchyard_responses_total', 'status_class', STATUS_CLASSES, (t, i) => t.classes[i] as number);

  family(out, 'switchyard_client_aborts_total', 'counter', 'Requests whose client went away before the answer was complete, by the target it was on.');
  perTarget(out, ts, 'switchyard_client_aborts_total', (t) => t.aborts);

  family(
    out,
    'switchyard_upstream_failures_total',
    'counter',
    'Failed attempts by target and code: a ProxyError code, UPSTREAM_BROKEN (the upstream broke mid-response) or OTHER.',
  );
  perTargetBy(out, ts, 'switchyard_upstream_failures_total', 'code', FAILURE_CODES, (t, i) => t.failures[i] as number);

  family(
    out,
    'switchyard_errors_total',
    'counter',
    'Requests this middleware answered with a ProxyError (handed to the error handler), by code; NO_UPSTREAM: no target was available.',
  );
  ERROR_CODES.forEach((code, i) => out.push(`switchyard_errors_total{code="${code}"} ${mw.errors[i]}`));

  family(out, 'switchyard_upstream_in_flight', 'gauge', 'Attempts in flight on each target right now.');
  perTarget(out, ts, 'switchyard_upstream_in_flight', (t) => t.active);

  family(out, 'switchyard_upstream_healthy', 'gauge', 'Whether each target is healthy (1) or marked down by active or passive health checks (0).');
  perTarget(out, ts, 'switchyard_upstream_healthy', (t) => (t.healthy ? 1 : 0));

  const duration = 'switchyard_upstream_request_duration_seconds';
  family(
    out,
    duration,
    'histogram',
    'Time from sending an attempt to a target until it ended (response relayed whole, failed, or client gone), in seconds.',
  );
  for (const t of ts) histogram(out, duration, t);

  out.push('');
  return out.join('\n');
}
