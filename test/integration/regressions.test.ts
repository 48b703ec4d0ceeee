/**
 * Regression tests, one per bug, named after it.
 */
import http from 'node:http';
import express, { type ErrorRequestHandler } from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import type { ProxyMiddleware } from '../../src/index.js';
import { deadTargetUrl } from '../helpers/dead-target.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { listen } from '../helpers/listen.js';
import { until } from '../helpers/poll.js';
import { deferred } from '../helpers/streams.js';
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

  it('a client leaving while a retry waits for tryInterval is recorded as 499', async () => {
    const mw = makeProxy({ targets: await deadTargetUrl(), tryDuration: 60_000, tryInterval: 30_000 });
    const server = http.createServer(appWith(mw));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    defer(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as { port: number };
    const req = http.get({ host: '127.0.0.1', port, path: '/x', agent: false });
    req.on('error', () => {});
    await until(() => (mw.stats()[0]?.failures ?? 0) >= 1);
    req.destroy();
    await until(() => (mw.stats()[0]?.statuses[499] ?? 0) === 1);
    expect(mw.stats()[0]?.active).toBe(0);
  });
  it("a client leaving mid-upload while a retry replays its body no longer crashes the process (unheard 'error' on the replay stream)", async () => {
    const firstChunk = deferred<void>();
    const up = track(
      await startUpstream((req) => {
        // Reads the body; never answers.
        req.once('data', () => firstChunk.resolve());
        req.on('error', () => {});
      }),
    );
    // The refused first attempt makes the second one stream the replay, fed live from the client.
    const mw = makeProxy({ targets: [await deadTargetUrl(), up.url], balancer: 'first', retries: 1 });
    const front = track(await listen(appWith(mw)));
    const client = http.request(`${front.url}/upload`, { method: 'POST', agent: false, headers: { 'transfer-encoding': 'chunked' } });
    client.on('error', () => {});
    client.write(Buffer.alloc(10_000, 'b'));
    await firstChunk.promise;

    client.destroy();
    await until(() => mw.stats()[1]?.statuses[499] === 1, 'the abort to be recorded');
    expect(mw.stats().map((s) => s.active)).toEqual([0, 0]);
    await until(() => up.openSockets() === 0, 'the upstream request to be destroyed');
  });
});
