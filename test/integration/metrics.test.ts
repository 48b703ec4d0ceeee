/**
 * `mw.metrics()`: the Prometheus text exposition, read back by a real parser of the format
 * (test/helpers/prometheus.ts) after real traffic through real upstreams on 127.0.0.1.
 */
import http from 'node:http';
import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { ProxyMiddleware } from '../../src/index.js';
import { sendRequest } from '../helpers/client.js';
import { deadTargetUrl } from '../helpers/dead-target.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { listen } from '../helpers/listen.js';
import { until } from '../helpers/poll.js';
import { parseScrape, type Scrape } from '../helpers/prometheus.js';
import { startUpstream } from '../helpers/upstream.js';

const { track, proxyFor } = useCleanup();

const scrape = (mw: ProxyMiddleware): Scrape => parseScrape(mw.metrics());

/** An upstream answering the status its path names (`/status/404` → 404), 200 otherwise. */
async function statusUpstream() {
  return track(
    await startUpstream((req, res) => {
      const m = /^\/status\/(\d{3})$/.exec(req.url ?? '');
      const status = m === null ? 200 : Number(m[1]);
      // 204 has no body (RFC 9110 §15.3.5).
      if (status === 204) res.writeHead(204).end();
      else res.writeHead(status, { 'content-length': '2' }).end('ok');
    }),
  );
}

/** `mw` mounted on an Express app at `/api`, served on 127.0.0.1. */
async function front(mw: ProxyMiddleware) {
  return track(await listen(express().use('/api', mw)));
}

describe('mw.metrics()', () => {
  it('counts requests and responses by target and status class after known traffic', async () => {
    const up = await statusUpstream();
    const mw = proxyFor({ targets: { url: up.url, name: 'api-1' } });
    const app = express().use('/api', mw);
    for (const path of ['/a', '/b', '/c', '/status/204', '/status/302', '/status/404', '/status/503']) {
      await request(app).get(`/api${path}`);
    }
    const m = scrape(mw);
    const t = { target: 'api-1' };
    expect(m.value('switchyard_upstream_requests_total', t)).toBe(7);
    expect(['1xx', '2xx', '3xx', '4xx', '5xx'].map((c) => m.value('switchyard_responses_total', { ...t, status_class: c }))).toEqual([0, 4, 1, 1, 1]);
    expect(m.value('switchyard_upstream_retries_total', t)).toBe(0);
    expect(m.value('switchyard_client_aborts_total', t)).toBe(0);
    expect(m.family('switchyard_errors_total').metrics.map((s) => Number(s.value))).toEqual([0, 0, 0, 0, 0, 0, 0]);
    // What stats() says, metrics() says too.
    expect(mw.stats()[0]!.requests).toBe(7);
  });

  it('declares HELP and TYPE for every family, with conventional names', async () => {
    const up = await statusUpstream();
    const mw = proxyFor({ targets: up.url });
    const m = scrape(mw);
    const types = Object.fromEntries(m.families.map((f) => [f.name, f.type]));
    expect(types).toEqual({
      switchyard_upstream_requests_total: 'COUNTER',
      switchyard_upstream_retries_total: 'COUNTER',
      switchyard_responses_total: 'COUNTER',
      switchyard_client_aborts_total: 'COUNTER',
      switchyard_upstream_failures_total: 'COUNTER',
      switchyard_errors_total: 'COUNTER',
      switchyard_upstream_in_flight: 'GAUGE',
      switchyard_upstream_healthy: 'GAUGE',
      switchyard_upstream_request_duration_seconds: 'HISTOGRAM',
    });
    for (const f of m.families) expect(f.help, f.name).not.toBe('');
    // A target that has seen no traffic still has its series, at 0, so rate() works from the first request.
    expect(m.value('switchyard_upstream_failures_total', { target: new URL(up.url).host, code: 'UPSTREAM_TIMEOUT' })).toBe(0);
  });

  it('counts a dead target’s failure by code, and the retry that followed on the next target', async () => {
    const up = await statusUpstream();
    const dead = await deadTargetUrl();
    const mw = proxyFor({ targets: [{ url: dead, name: 'dead' }, { url: up.url, name: 'live' }], balancer: 'first', retries: 1 });
    await request(express().use('/api', mw)).get('/api/x').expect(200);
    const m = scrape(mw);
    expect(m.value('switchyard_upstream_failures_total', { target: 'dead', code: 'UPSTREAM_UNAVAILABLE' })).toBe(1);
    expect(m.value('switchyard_upstream_failures_total', { target: 'live', code: 'UPSTREAM_UNAVAILABLE' })).toBe(0);
    expect(m.value('switchyard_upstream_requests_total', { target: 'dead' })).toBe(1);
    expect(m.value('switchyard_upstream_retries_total', { target: 'live' })).toBe(1);
    expect(m.value('switchyard_upstream_retries_total', { target: 'dead' })).toBe(0);
    expect(m.value('switchyard_responses_total', { target: 'live', status_class: '2xx' })).toBe(1);
    // The request was answered: no ProxyError reached the error handler.
    expect(m.value('switchyard_errors_total', { code: 'UPSTREAM_UNAVAILABLE' })).toBe(0);
  });

  it('counts a request that failed on its only target as an error by code and a 5xx on that target', async () => {
    const dead = await deadTargetUrl();
    const mw = proxyFor({ targets: { url: dead, name: 'dead' } });
    await request(express().use('/api', mw)).get('/api/x').expect(502);
    const m = scrape(mw);
    expect(m.value('switchyard_errors_total', { code: 'UPSTREAM_UNAVAILABLE' })).toBe(1);
    expect(m.value('switchyard_responses_total', { target: 'dead', status_class: '5xx' })).toBe(1);
    expect(m.value('switchyard_upstream_failures_total', { target: 'dead', code: 'UPSTREAM_UNAVAILABLE' })).toBe(1);
  });

  it('shows targets added and removed at run time, and counts requests that found no target as NO_UPSTREAM', async () => {
    const up = await statusUpstream();
    const mw = proxyFor({ targets: { url: up.url, name: 'first' } });
    const app = express().use('/api', mw);
    mw.balancer.add({ url: up.url, name: 'second' });
    expect(scrape(mw).family('switchyard_upstream_healthy').metrics.map((s) => s.labels?.target)).toEqual(['first', 'second']);
    mw.balancer.remove('first');
    mw.balancer.remove('second');
    await request(app).get('/api/x').expect(503);
    const m = scrape(mw);
    expect(m.family('switchyard_upstream_requests_total').metrics).toEqual([]);
    expect(m.value('switchyard_errors_total', { code: 'NO_UPSTREAM' })).toBe(1);
  });

  it('reports an attempt in flight while a slow upstream answers, and none after', async () => {
    let release: (() => void) | undefined;
    const up = track(
      await startUpstream((_req, res) => {
        release = () => res.end('late');
      }),
    );
    const mw = proxyFor({ targets: { url: up.url, name: 'slow' } });
    const f = await front(mw);
    const pending = sendRequest(`${f.url}/api/slow`);
    await until(() => release !== undefined, 'the upstream to get the request');
    expect(scrape(mw).value('switchyard_upstream_in_flight', { target: 'slow' })).toBe(1);
    release!();
    expect((await pending).status).toBe(200);
    await until(() => scrape(mw).value('switchyard_upstream_in_flight', { target: 'slow' }) === 0, 'in-flight back to 0');
  });

  it('counts a client that went away on the target it was waiting for', async () => {
    let gotRequest = false;
    const up = track(
      await startUpstream(() => {
        gotRequest = true; // never answers
      }),
    );
    const mw = proxyFor({ targets: { url: up.url, name: 'hang' } });
    const f = await front(mw);
    const req = http.get(`${f.url}/api/hang`);
    req.on('error', () => {});
    await until(() => gotRequest, 'the upstream to get the request');
    req.destroy();
    await until(() => scrape(mw).value('switchyard_client_aborts_total', { target: 'hang' }) === 1, 'the abort to be counted');
    const m = scrape(mw);
    expect(m.value('switchyard_upstream_in_flight', { target: 'hang' })).toBe(0);
    // An abort is not a response: no status class counts it.
    expect(m.family('switchyard_responses_total').metrics.every((s) => s.value === '0')).toBe(true);
  });

  it('flips the health gauge with active health checks', async () => {
    let healthy = true;
    const up = track(
      await startUpstream((req, res) => {
        res.writeHead(req.url === '/health' && !healthy ? 503 : 200).end();
      }),
    );
    const mw = proxyFor({ targets: { url: up.url, name: 'checked' }, healthCheck: { path: '/health', interval: 50 } });
    const gauge = (): number => scrape(mw).value('switchyard_upstream_healthy', { target: 'checked' });
    expect(gauge()).toBe(1);
    healthy = false;
    await until(() => gauge() === 0, 'the gauge to read 0');
    healthy = true;
    await until(() => gauge() === 1, 'the gauge to read 1 again');
  });

  it('times attempts before the first scrape too: the first scrape sees every attempt', async () => {
    const up = await statusUpstream();
    const mw = proxyFor({ targets: { url: up.url, name: 'up' } });
    const app = express().use('/api', mw);
    await request(app).get('/api/before').expect(200);
    expect(scrape(mw).histogram('switchyard_upstream_request_duration_seconds', { target: 'up' }).count).toBe(1);
    await request(app).get('/api/after').expect(200);
    const m = scrape(mw);
    expect(m.histogram('switchyard_upstream_request_duration_seconds', { target: 'up' }).count).toBe(2);
    expect(m.value('switchyard_upstream_requests_total', { target: 'up' })).toBe(2);
  });

  it('keeps a cumulative duration histogram whose _count matches the attempts', async () => {
    const up = await statusUpstream();
    const dead = await deadTargetUrl();
    const mw = proxyFor({ targets: [{ url: up.url, name: 'up' }, { url: dead, name: 'dead' }], balancer: 'round_robin' });
    const app = express().use('/api', mw);
    for (let i = 0; i < 6; i++) await request(app).get(`/api/${i}`);
    const m = scrape(mw);
    for (const target of ['up', 'dead']) {
      const h = m.histogram('switchyard_upstream_request_duration_seconds', { target });
      expect(h.buckets.map(([le]) => le)).toEqual(['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf']);
      const counts = h.buckets.map(([, n]) => n);
      for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1]!);
      expect(counts.at(-1)).toBe(h.count);
      expect(h.count).toBe(m.value('switchyard_upstream_requests_total', { target }));
      expect(h.count).toBe(3);
      expect(h.sum).toBeGreaterThan(0);
    }
  });

  it('counts a WebSocket handshake as 1xx and in flight while the tunnel is open, and keeps the tunnel out of the histogram', async () => {
    const up = track(await startUpstream());
    const wss = track(new WebSocketServer({ server: up.server }));
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
    const mw = proxyFor({ targets: { url: up.url, name: 'ws' }, ws: true });
    const f = await front(mw);
    f.server.on('upgrade', mw.upgrade);
    const client = new WebSocket(`${f.url.replace('http', 'ws')}/api/socket`);
    client.on('error', () => {});
    await new Promise((resolve) => client.once('open', resolve));
    const open = scrape(mw);
    expect(open.value('switchyard_responses_total', { target: 'ws', status_class: '1xx' })).toBe(1);
    expect(open.value('switchyard_upstream_in_flight', { target: 'ws' })).toBe(1);
    client.close();
    await until(() => scrape(mw).value('switchyard_upstream_in_flight', { target: 'ws' }) === 0, 'the tunnel to end');
    const closed = scrape(mw);
    expect(closed.histogram('switchyard_upstream_request_duration_seconds', { target: 'ws' }).count).toBe(0);
    expect(closed.value('switchyard_responses_total', { target: 'ws', status_class: '1xx' })).toBe(1);
  });

  it('escapes backslash, double quote and newline in a target name', async () => {
    const up = await statusUpstream();
    const name = 'api "blue" \\ eu\nwest';
    const mw = proxyFor({ targets: { url: up.url, name } });
    await request(express().use('/api', mw)).get('/api/x').expect(200);
    const text = mw.metrics();
    expect(text).toContain('switchyard_upstream_requests_total{target="api \\"blue\\" \\\\ eu\\nwest"} 1\n');
    expect(parseScrape(text).value('switchyard_upstream_requests_total', { target: name })).toBe(1);
  });
});
