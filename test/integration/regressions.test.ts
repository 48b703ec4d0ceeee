/**
 * Regression tests, one per bug, named after it.
 */
import http from 'node:http';
import https from 'node:https';
import express, { type ErrorRequestHandler } from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import type { ProxyMiddleware } from '../../src/index.js';
import { useCleanup } from '../helpers/lifecycle.js';
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

  it('an https.Agent given as agent does not capture http targets', async () => {
    const agent = new https.Agent({ keepAlive: true });
    defer(() => agent.destroy());
    const mw = makeProxy({ targets: await echo(), agent: agent as unknown as http.Agent });
    await request(appWith(mw)).get('/x').expect(200);
  });
});
