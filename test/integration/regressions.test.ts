/**
 * Regression tests, one per bug, named after it.
 */
import http from 'node:http';
import http2 from 'node:http2';
import express, { type ErrorRequestHandler } from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import type { ProxyMiddleware } from '../../src/index.js';
import { generateCerts } from '../helpers/certs.js';
import { deadTargetUrl } from '../helpers/dead-target.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { listen } from '../helpers/listen.js';
import { startUpstream } from '../helpers/upstream.js';

const { defer, track, proxyFor: makeProxy } = useCleanup();

async function echo(): Promise<string> {
  return track(await startUpstream()).url;
}

function appWith(mw: ProxyMiddleware): express.Express {
  const app = express();
  app.use(mw);
  app.use(((err: Error, _req, res, _next) => {
    res.status(500).type('text/plain').send(`express-error: ${err.message}`);
  }) as ErrorRequestHandler);
  return app;
}

describe('regressions', () => {
  it('status phrase follows a status changed by modifyResponse (was "201 OK")', async () => {
    const mw = makeProxy({
      targets: await echo(),
      modifyResponse: (proxyRes) => {
        proxyRes.statusCode = 201;
      },
    });
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const server = http.createServer(appWith(mw)).listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        http.get({ host: '127.0.0.1', port, path: '/x', agent: false }, (r) => {
          r.resume();
          r.on('end', () => server.close());
          resolve(r);
        }).on('error', reject);
      });
    });
    expect(res.statusCode).toBe(201);
    expect(res.statusMessage).toBe('Created');
  });

  it('a throwing responseHeaders function reaches next(err) with a clean response and frees the target', async () => {
    const mw = makeProxy({
      targets: await echo(),
      responseHeaders: {
        'x-boom': () => {
          throw new Error('rule failed');
        },
      },
    });
    const res = await request(appWith(mw)).get('/x').expect(500);
    expect(res.text).toBe('express-error: rule failed');
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(res.text)));
    const [stats] = mw.stats();
    expect(stats?.active).toBe(0);
    expect(stats?.failures).toBe(1);
  });

  it('requests after close() answer 503 NO_UPSTREAM at once instead of waiting for a timeout', async () => {
    const mw = makeProxy({ targets: await echo() });
    await mw.close();
    const res = await request(appWith(mw)).get('/x').set('accept', 'application/json').expect(503);
    expect(res.body.error.code).toBe('NO_UPSTREAM');
  });

  describe('body lost on fallback (an errorHandler handing on to a second proxy after attempts that never connected)', () => {
    async function chain(): Promise<{ url: string; received: () => Buffer[] }> {
      const received: Buffer[] = [];
      const second = track(
        await startUpstream((req, res) => {
          const chunks: Buffer[] = [];
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => {
            received.push(Buffer.concat(chunks));
            res.end('second');
          });
        }),
      );
      const first = makeProxy({ targets: await deadTargetUrl(), retries: 1, errorHandler: (_err, _req, _res, next) => next() });
      const fallback = makeProxy({ targets: second.url });
      const app = express();
      app.use(first);
      app.use(fallback);
      const front = track(await listen(app));
      return { url: front.url, received: () => received };
    }

    it.each([
      ['a 15-byte POST', 15],
      ['a 100 KB POST', 100 * 1024],
    ])('%s arrives whole at the second upstream', async (_name, size) => {
      const { url, received } = await chain();
      const body = Buffer.alloc(size, 0x6b);
      const res = await request(url).post('/p').type('application/octet-stream').send(body);
      expect(res.status).toBe(200);
      expect(res.text).toBe('second');
      expect(received()).toHaveLength(1);
      expect(received()[0]!.equals(body)).toBe(true);
    });
  });

  it('Expect: 100-continue set by a header rule no longer turns every request into a 504', async () => {
    const up = track(await startUpstream());
    const mw = makeProxy({ targets: up.url, headers: { expect: '100-continue' }, timeout: 5_000 });
    const res = await request(appWith(mw)).post('/e').send('payload').expect(200);
    expect(res.body.method).toBe('POST');
    expect(up.requests[0]?.headers.expect).toBeUndefined();
  });

  it('listeners no longer pile up on req and res across attempts (retries: 12, then tryDuration)', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    defer(() => process.off('warning', onWarning));
    const dead = await deadTargetUrl();
    const counts: Array<Record<string, number>> = [];
    const count = (req: http.IncomingMessage, res: http.ServerResponse): Record<string, number> => ({
      reqData: req.listenerCount('data'),
      reqEnd: req.listenerCount('end'),
      reqError: req.listenerCount('error'),
      resClose: res.listenerCount('close'),
      resFinish: res.listenerCount('finish'),
      resDrain: res.listenerCount('drain'),
    });
    for (const config of [{ retries: 12 }, { tryDuration: 400, tryInterval: 20 }]) {
      const mw = makeProxy({
        targets: dead,
        ...config,
        errorHandler: (err, req, res) => {
          counts.push(count(req, res));
          res.statusCode = err.status;
          res.end();
        },
      });
      const front = track(await listen((req, res) => mw(req, res)));
      const baseline = await new Promise<Record<string, number>>((resolve) => {
        const probe = http.createServer((req, res) => {
          resolve(count(req, res));
          res.end();
        });
        probe.listen(0, '127.0.0.1', () => {
          const { port } = probe.address() as { port: number };
          http.get({ host: '127.0.0.1', port, agent: false }, (r) => r.resume().on('end', () => probe.close()));
        });
      });
      const res = await request(front.url).post('/x').send('body');
      expect(res.status).toBe(502);
      const after = counts.at(-1)!;
      // What a plain node:http request carries, plus at most our one close listener.
      for (const key of Object.keys(after)) expect(after[key]!, key).toBeLessThanOrEqual(baseline[key]! + 1);
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('an HTTP/2 front end (createSecureServer with allowHTTP1) is proxied, Host and X-Forwarded-Host from :authority', async () => {
    const certs = await generateCerts();
    const up = track(await startUpstream());
    const mw = makeProxy({ targets: up.url });
    const server = http2.createSecureServer({ allowHTTP1: true, key: certs.server.key, cert: certs.server.cert }, (req, res) =>
      mw(req as unknown as http.IncomingMessage, res as unknown as http.ServerResponse),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    defer(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as { port: number };
    const client = http2.connect(`https://localhost:${port}`, { ca: certs.ca });
    defer(() => client.close());
    const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = client.request({ ':path': '/h2?x=1', ':method': 'GET' });
      let status = 0;
      let body = '';
      req.on('response', (h) => (status = Number(h[':status'])));
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => resolve({ status, body }));
      req.on('error', reject);
      req.end();
    });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ method: 'GET', url: '/h2?x=1' });
    expect(up.requests[0]?.headers.host).toBe(new URL(up.url).host);
    expect(up.requests[0]?.headers['x-forwarded-host']).toBe(`localhost:${port}`);
    expect(up.requests[0]?.headers['x-forwarded-proto']).toBe('https');
  });
});
