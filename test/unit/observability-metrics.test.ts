/**
 * The exposition's pieces without a network: bucket boundaries, failure-code slots, label
 * escaping, and targets of a custom balancer. Behaviour under real traffic:
 * test/integration/metrics.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createTarget, countersOf } from '../../src/balancer/target.js';
import { ProxyError } from '../../src/errors/proxy-error.js';
import { escapeLabelValue, renderMetrics } from '../../src/observability/metrics.js';
import { createMiddlewareMetrics, observeDuration, recordAttemptEnd, recordError } from '../../src/observability/metric-counters.js';
import type { ProxyTarget } from '../../src/types.js';
import { parseScrape } from '../helpers/prometheus.js';

const DURATION = 'switchyard_upstream_request_duration_seconds';

describe('observeDuration', () => {
  it.each([
    [0, '0.005'],
    [0.005, '0.005'],
    [0.0051, '0.01'],
    [1, '1'],
    [10, '10'],
    [10.001, '+Inf'],
  ])('counts %s s in the le="%s" bucket first', (seconds, le) => {
    const t = createTarget({ url: 'http://127.0.0.1:1', name: 't' });
    observeDuration(t.metrics, seconds);
    const h = parseScrape(renderMetrics([t], createMiddlewareMetrics())).histogram(DURATION, { target: 't' });
    const first = h.buckets.find(([, n]) => n === 1);
    expect(first?.[0]).toBe(le);
    expect(h.count).toBe(1);
    expect(h.sum).toBe(seconds);
  });
});

describe('recordAttemptEnd', () => {
  it('puts each way an attempt fails under its code, and keeps a tunnel out of the histogram', () => {
    const t = createTarget({ url: 'http://127.0.0.1:1', name: 't' });
    const started = performance.now();
    const error = (code: 'UPSTREAM_TIMEOUT' | 'NO_UPSTREAM') => new ProxyError(code, 'x', { target: t });
    recordAttemptEnd(t.metrics, 'failed', 0, error('UPSTREAM_TIMEOUT'), started);
    recordAttemptEnd(t.metrics, 'failed', 0, error('NO_UPSTREAM'), started);
    recordAttemptEnd(t.metrics, 'failed', 0, undefined, started);
    recordAttemptEnd(t.metrics, 'broken', 200, undefined, started);
    recordAttemptEnd(t.metrics, 'answered', 0, undefined, started); // a WebSocket tunnel closing
    const m = parseScrape(renderMetrics([t], createMiddlewareMetrics()));
    const failures = Object.fromEntries(
      m.family('switchyard_upstream_failures_total').metrics.map((s) => [s.labels?.code, Number(s.value)]),
    );
    expect(failures).toEqual({
      UPSTREAM_UNAVAILABLE: 0,
      UPSTREAM_TIMEOUT: 1,
      UNEXPECTED_STATUS: 0,
      RESPONSE_HOOK_FAILED: 0,
      CLIENT_TIMEOUT: 0,
      UPSTREAM_BROKEN: 1,
      OTHER: 2,
    });
    expect(m.histogram(DURATION, { target: 't' }).count).toBe(4);
  });
});

describe('escapeLabelValue', () => {
  it.each([
    ['plain', 'plain'],
    ['a"b', 'a\\"b'],
    ['a\\b', 'a\\\\b'],
    ['a\nb', 'a\\nb'],
    ['\\"\n', '\\\\\\"\\n'],
  ])('escapes the label value %j as %j', (raw, escaped) => {
    expect(escapeLabelValue(raw)).toBe(escaped);
  });
});

describe('renderMetrics', () => {
  it('counts errors by code for the middleware, with no target label', () => {
    const mw = createMiddlewareMetrics();
    recordError(mw, new ProxyError('NO_UPSTREAM', 'x'));
    recordError(mw, new ProxyError('NO_UPSTREAM', 'x'));
    recordError(mw, new ProxyError('BAD_REQUEST', 'x'));
    const m = parseScrape(renderMetrics([], mw));
    expect(m.value('switchyard_errors_total', { code: 'NO_UPSTREAM' })).toBe(2);
    expect(m.value('switchyard_errors_total', { code: 'BAD_REQUEST' })).toBe(1);
    expect(m.family('switchyard_errors_total').metrics.every((s) => s.labels?.target === undefined)).toBe(true);
  });

  it("reports a custom balancer's target with side counters, healthy only when both it and they say so", () => {
    const own: ProxyTarget = { url: new URL('http://127.0.0.1:1'), name: 'custom', weight: 1, meta: {}, healthy: false, active: 0 };
    countersOf(own).requests = 3;
    const m = parseScrape(renderMetrics([own], createMiddlewareMetrics()));
    expect(m.value('switchyard_upstream_requests_total', { target: 'custom' })).toBe(3);
    expect(m.value('switchyard_upstream_healthy', { target: 'custom' })).toBe(0);
  });

  it('ends with a newline, as the format requires of the last line', () => {
    expect(renderMetrics([], createMiddlewareMetrics()).endsWith('\n')).toBe(true);
  });
});
