// --admin: /metrics, /stats and /healthz on a separate loopback listener of the real bin.
import { describe, expect, it } from 'vitest';
import { isLoopback } from '../../src/cli/admin-server.js';
import { parseScrape } from '../helpers/prometheus.js';
import { startUpstream } from '../helpers/upstream.js';
import { get } from './http-get.js';
import { useCli } from './spawn-cli.js';

const LISTEN = ['--listen', '127.0.0.1:0'];
const { cli: startTracked, track } = useCli();

async function cli(args: string[]) {
  const started = await startTracked(args);
  const admin = /^ {2}admin {5}(http:\/\/127\.0\.0\.1:\d+) \(\/metrics, \/stats, \/healthz\)$/m.exec(started.stdout());
  return { ...started, admin: admin?.[1] };
}

interface Stats {
  name: string;
  healthy: boolean;
  requests: number;
  statuses: Record<string, number>;
}

describe('--admin', () => {
  it('is off by default', async () => {
    const up = await startUpstream();
    track(up);
    const proc = await cli([...LISTEN, '-t', up.url]);
    expect(proc.admin).toBeUndefined();
    expect(proc.stdout()).not.toContain('admin');
  });

  it('serves /stats, /healthz and /metrics apart from the proxied port', async () => {
    const up = await startUpstream({ name: 'a' });
    track(up);
    const proc = await cli([...LISTEN, '-t', up.url, '--admin', '127.0.0.1:0']);
    expect(proc.admin).toBeDefined();
    expect(proc.admin).not.toBe(proc.url);
    expect((await get(`${proc.url}/x`)).status).toBe(200);

    const stats = await get(`${proc.admin}/stats`);
    expect(stats.status).toBe(200);
    expect(stats.headers['content-type']).toBe('application/json; charset=utf-8');
    const [target] = JSON.parse(stats.body) as Stats[];
    expect(target).toMatchObject({ name: `127.0.0.1:${up.port}`, healthy: true, requests: 1, statuses: { 200: 1 } });

    const health = await get(`${proc.admin}/healthz`);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: 'ok', healthy: 1, targets: 1 });

    const metrics = await get(`${proc.admin}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const scrape = parseScrape(metrics.body);
    expect(scrape.value('switchyard_upstream_requests_total', { target: `127.0.0.1:${up.port}` })).toBe(1);
    expect(scrape.value('switchyard_responses_total', { target: `127.0.0.1:${up.port}`, status_class: '2xx' })).toBe(1);

    expect((await get(`${proc.admin}/nope`)).status).toBe(404);
    expect((await get(`${proc.admin}/stats`, { method: 'POST' })).status).toBe(405);
    // Admin requests are not proxied and not logged as requests.
    expect(up.requests).toHaveLength(1);
  });

  it('/healthz answers 503 once no target is healthy', async () => {
    const sick = await startUpstream((req, res) => void res.writeHead(req.url === '/health' ? 503 : 200).end());
    track(sick);
    const proc = await cli([...LISTEN, '-t', sick.url, '--admin', '127.0.0.1:0', '--health-path', '/health', '--health-interval', '60000']);
    await proc.waitForErrCount(/ health \S+ down \(active\)$/, 1);
    const health = await get(`${proc.admin}/healthz`);
    expect(health.status).toBe(503);
    expect(JSON.parse(health.body)).toEqual({ status: 'unavailable', healthy: 0, targets: 1 });
  });

  it('warns about an address other machines can reach', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.5', '192.168.1.2'].some(isLoopback)).toBe(false);
  });
});

