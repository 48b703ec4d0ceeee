/**
 * What the CLI logs beyond request lines, heard on the library's diagnostics channels:
 * retries (an attempt after a failed one) and health changes. The channels are process-wide,
 * so one subscription serves every proxy the process builds (a reload makes a second one).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { AttemptEndMessage, AttemptStartMessage, HealthChangeMessage, ProxyMiddleware, ProxyTarget } from '../types.js';
import { escapeField, escapeTail } from './log-format.js';
import type { Log } from './log.js';
import { causeOf, traces } from './request-log.js';

/**
 * Targets of proxies being replaced or closed. Closing a proxy releases its health marks,
 * which would read as `health … up` lines (and, in a cluster primary, as a verdict) about
 * targets nobody routes to any more: their events are ignored.
 */
const retired = new WeakSet<ProxyTarget>();

/** Ignores health events of `mw`'s targets from now on (call before closing or replacing it). */
export function retireTargets(mw: ProxyMiddleware): void {
  for (const target of mw.balancer.targets) retired.add(target);
}

/** Whether `target` belongs to a proxy that was replaced or closed. */
export function isRetired(target: ProxyTarget): boolean {
  return retired.has(target);
}

/** Options of {@link subscribeProxyEvents}. */
export interface ProxyEventOptions {
  /** Follow each request's attempts: retry lines and `attempts=` on request lines (off with `--quiet`). */
  readonly requests: boolean;
  /**
   * Log only passive health changes: in a cluster worker, whose active verdicts come from the
   * primary (which logs them once). @default false
   */
  readonly passiveOnly?: boolean;
  /** The cluster worker's id, if any: `w2 ` before text lines, `worker` in JSON. */
  readonly worker?: number;
}

/** Subscribes; returns the function that unsubscribes. */
export function subscribeProxyEvents(log: Log, opts: ProxyEventOptions): () => void {
  const json = log.format === 'json';
  const prefix = opts.worker === undefined ? '' : `w${opts.worker} `;
  const worker = opts.worker === undefined ? undefined : { worker: opts.worker };

  const onAttemptStart = (message: unknown): void => {
    const m = message as AttemptStartMessage;
    const trace = traces.get(m.req);
    if (trace === undefined) return;
    trace.attempts = m.attempt;
    const failure = trace.lastFailure;
    if (m.attempt < 2 || failure === undefined) return;
    const previous = trace.lastFailedTarget?.name ?? '-';
    const cause = causeOf(failure);
    if (json) {
      log.error('retry', {
        ...worker, method: trace.method, path: trace.path, attempt: m.attempt, upstream: m.target.name,
        previousUpstream: previous, error: failure.code, cause,
      });
    } else {
      log.error(
        `${new Date().toISOString()} ${prefix}retry ${escapeField(trace.method)} ${escapeField(trace.path)} attempt=${m.attempt} ` +
          `upstream=${escapeField(m.target.name)} after ${escapeField(previous)} ${failure.code} cause=${escapeTail(cause)}`,
      );
    }
  };

  const onAttemptEnd = (message: unknown): void => {
    const m = message as AttemptEndMessage;
    const trace = traces.get(m.req);
    if (trace === undefined) return;
    if (m.outcome === 'broken') trace.broken = true;
    else if (m.outcome === 'failed' && m.error !== undefined) {
      trace.lastFailure = m.error;
      trace.lastFailedTarget = m.target;
    }
  };

  const onHealthChange = (message: unknown): void => {
    const m = message as HealthChangeMessage;
    if (retired.has(m.target) || (opts.passiveOnly === true && m.source !== 'passive')) return;
    const write = m.healthy ? log.info : log.error;
    if (json) write('health', { ...worker, upstream: m.target.name, healthy: m.healthy, source: m.source });
    else write(`${new Date().toISOString()} ${prefix}health ${escapeField(m.target.name)} ${m.healthy ? 'up' : 'down'} (${m.source})`);
  };

  const subscriptions: Array<[string, (message: unknown) => void]> = [['switchyard:health:change', onHealthChange]];
  if (opts.requests) {
    subscriptions.push(['switchyard:attempt:start', onAttemptStart], ['switchyard:attempt:end', onAttemptEnd]);
  }
  for (const [name, fn] of subscriptions) diagnosticsChannel.subscribe(name, fn);
  return () => {
    for (const [name, fn] of subscriptions) diagnosticsChannel.unsubscribe(name, fn);
  };
}
