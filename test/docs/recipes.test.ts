// What the recipes in the docs do, run from the docs' own code blocks (see in-process.ts):
// the block a reader copies is the block tested here.
import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { useCleanup } from '../helpers/lifecycle.js';
import { socketDir } from '../helpers/socket-dir.js';
import { startUpstream } from '../helpers/upstream.js';
import { parseScrape } from '../helpers/prometheus.js';
import { docSnippet, runInProcess } from './in-process.js';

const { track, proxyFor } = useCleanup();

describe('docs/recipes/mounting-and-paths.md: routing by a header', () => {
  const snippet = docSnippet('docs/recipes/mounting-and-paths.md', "to: '/tenants/{header.x-tenant}");

  async function tenantApp() {
    const up = track(await startUpstream());
    const app = express();
    await runInProcess(snippet, { app, proxy: proxyFor }, { 'http://127.0.0.1:3002': up.url });
    return { app, up };
  }

  it('forwards a request with X-Tenant to /tenants/<tenant>/...', async () => {
    const { app, up } = await tenantApp();
    const res = await request(app).get('/tenant/list?x=1').set('x-tenant', 'acme');
    expect(res.status).toBe(200);
    expect(up.requests.map((r) => r.url)).toEqual(['/tenants/acme/list?x=1']);
  });

  it('answers 400 without X-Tenant (or with an empty one) and never contacts the upstream', async () => {
    const { app, up } = await tenantApp();
    const missing = await request(app).get('/tenant/list');
    expect(missing.status).toBe(400);
    expect(missing.text).toContain('X-Tenant header required');
    const empty = await request(app).get('/tenant/list').set('x-tenant', '');
    expect(empty.status).toBe(400);
    expect(up.requests).toEqual([]);
  });
});

describe('docs/migrating-from-http-proxy-middleware.md: redirects and cookies under a mount path', () => {
  const snippet = docSnippet('docs/migrating-from-http-proxy-middleware.md', 'rewriteCookies: true');

  it('puts Location and every cookie Path under the mount point and drops the target host as cookie Domain', async () => {
    const up = track(
      await startUpstream((req, res) => {
        res.setHeader('location', `http://127.0.0.1:${req.socket.localPort}/login`);
        res.setHeader('set-cookie', [
          'sid=1; Domain=127.0.0.1; Path=/; HttpOnly',
          'pref=dark; path=/account; domain=.127.0.0.1',
          'plain=1',
          'empty=1; Path=',
          'other=1; Domain=other.example',
        ]);
        res.writeHead(302).end();
      }),
    );
    const app = express();
    await runInProcess(snippet, { app, proxy: proxyFor }, { 'http://127.0.0.1:3001': up.url });

    const res = await request(app).get('/api/start');
    expect(res.status).toBe(302);
    expect(res.headers.location).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/login$/);
    expect(res.headers['set-cookie']).toEqual([
      'sid=1; Path=/api; HttpOnly', 'pref=dark; path=/api/account', 'plain=1', 'empty=1; Path=/api', 'other=1; Domain=other.example',
    ]);
  });

  it('leaves a Location on another origin alone', async () => {
    const up = track(
      await startUpstream((_req, res) => {
        res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end();
      }),
    );
    const app = express();
    await runInProcess(snippet, { app, proxy: proxyFor }, { 'http://127.0.0.1:3001': up.url });
    const res = await request(app).get('/api/start');
    expect(res.headers.location).toBe('http://127.0.0.1:1/elsewhere');
  });

  it("applies HPM's explicit cookie maps", async () => {
    const up = track(
      await startUpstream((_req, res) => {
        res.setHeader('set-cookie', ['a=1; Domain=shop.internal; Path=/', 'b=2; Domain=cdn.internal; Path=/img']);
        res.writeHead(204).end();
      }),
    );
    const app = express();
    await runInProcess(snippet, { app, proxy: proxyFor }, { 'http://127.0.0.1:3002': up.url });
    const res = await request(app).get('/shop/cart');
    expect(res.headers['set-cookie']).toEqual(['a=1; Domain=shop.example; Path=/shop', 'b=2; Path=/img']);
  });
});

describe('docs/recipes/metrics.md: /metrics for Prometheus', () => {
  const snippet = docSnippet('docs/recipes/metrics.md', "app.get('/metrics'");

  it('serves the text format with the traffic of both targets', async () => {
    const a = track(await startUpstream());
    const b = track(await startUpstream());
    const app = express();
    await runInProcess(snippet, { app, proxy: proxyFor }, { 'http://127.0.0.1:3001': a.url, 'http://127.0.0.1:3002': b.url });
    for (let i = 0; i < 4; i++) await request(app).get(`/api/${i}`).expect(200);
    const res = await request(app).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = parseScrape(res.text);
    for (const up of [a, b]) {
      const target = new URL(up.url).host;
      expect(m.value('switchyard_upstream_requests_total', { target })).toBe(2);
      expect(m.value('switchyard_responses_total', { target, status_class: '2xx' })).toBe(2);
    }
  });
});

describe('docs/recipes/unix-sockets.md: two socket targets', () => {
  const snippet = docSnippet('docs/recipes/unix-sockets.md', "socketPath: '/run/app/a.sock'");

  it('balances between the sockets, with Host and prefix from url', async () => {
    const sockets = track(await socketDir());
    const a = track(await startUpstream({ name: 'a', socketPath: sockets.path('a') }));
    const b = track(await startUpstream({ name: 'b', socketPath: sockets.path('b') }));
    const app = express();
    await runInProcess(snippet, { app, proxy: proxyFor }, { '/run/app/a.sock': sockets.path('a'), '/run/app/b.sock': sockets.path('b') });
    const names: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await request(app).get('/api/users?page=2');
      expect(res.status).toBe(200);
      names.push((res.body as { name: string }).name);
    }
    expect(names).toEqual(['a', 'b', 'a']);
    expect([...a.requests, ...b.requests].map((r) => [r.url, r.headers.host])).toEqual([
      ['/v1/users?page=2', 'app.internal'],
      ['/v1/users?page=2', 'app.internal'],
      ['/v1/users?page=2', 'app.internal'],
    ]);
  });
});
