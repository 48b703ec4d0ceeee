/**
 * `onRequest`: the upstream method, path and headers changed once per request before the
 * first attempt, synchronously or not; a throw or rejection goes to next(err).
 */
import express, { type ErrorRequestHandler } from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import type { OnRequest, ProxyMiddleware } from '../../src/index.js';
import { deadTargetUrl } from '../helpers/dead-target.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const { track, proxyFor } = useCleanup();

function appWith(mw: ProxyMiddleware): express.Express {
  const app = express();
  app.use('/api', mw);
  app.use(((err: Error, _req, res, _next) => {
    res.status(500).type('text/plain').send(`express-error: ${err.message}`);
  }) as ErrorRequestHandler);
  return app;
}

async function setup(onRequest: OnRequest, extra: { targets?: string; retries?: number } = {}): Promise<{ up: Upstream; mw: ProxyMiddleware }> {
  const up = track(await startUpstream());
  const mw = proxyFor({ targets: extra.targets ?? `${up.url}/prefix`, onRequest, retries: extra.retries ?? 0 });
  return { up, mw };
}

describe('onRequest', () => {
  it('changes method, path (before the target prefix) and headers', async () => {
    const { up, mw } = await setup((upstream, req) => {
      upstream.method = 'PUT';
      upstream.path = `/v2${upstream.path}`;
      upstream.headers['x-user'] = String(req.headers['x-session'] ?? 'anonymous');
      delete upstream.headers['x-drop-me'];
    });
    await request(appWith(mw)).post('/api/items?a=1').set('x-session', 's1').set('x-drop-me', '1').send('body').expect(200);
    const seen = up.requests[0]!;
    expect({ method: seen.method, url: seen.url, user: seen.headers['x-user'], dropped: seen.headers['x-drop-me'] }).toEqual({
      method: 'PUT',
      url: '/prefix/v2/items?a=1',
      user: 's1',
      dropped: undefined,
    });
    expect(seen.body.toString()).toBe('body');
  });

  it('may be async: the first attempt waits for it (fetching a token, say)', async () => {
    const { up, mw } = await setup(async (upstream) => {
      const token = await new Promise<string>((resolve) => setImmediate(() => resolve('t-123')));
      upstream.headers.authorization = `Bearer ${token}`;
    });
    await request(appWith(mw)).get('/api/x').expect(200);
    expect(up.requests[0]?.headers.authorization).toBe('Bearer t-123');
  });

  it('can set Host, which then holds for every attempt', async () => {
    const { up, mw } = await setup((upstream) => {
      upstream.headers.host = 'internal.example';
    });
    await request(appWith(mw)).get('/api/x').expect(200);
    expect(up.requests[0]?.headers.host).toBe('internal.example');
  });

  it('runs once per request, not once per attempt', async () => {
    let calls = 0;
    const up = track(await startUpstream());
    const mw = proxyFor({
      targets: [await deadTargetUrl(), up.url],
      balancer: 'first',
      retries: 1,
      onRequest: (upstream) => {
        calls += 1;
        upstream.headers['x-call'] = String(calls);
      },
    });
    await request(appWith(mw)).get('/api/x').expect(200);
    expect(calls).toBe(1);
    expect(up.requests[0]?.headers['x-call']).toBe('1');
  });

  it.each<[string, OnRequest, RegExp]>([
    ['a throw', () => {
      throw new Error('no session');
    }, /^express-error: no session$/],
    ['a rejection', async () => {
      throw new Error('token service down');
    }, /^express-error: token service down$/],
    ['a path without a leading slash', (u) => {
      u.path = 'v2/x';
    }, /^express-error: switchyard: onRequest set upstream.path to "v2\/x"/],
    ['a method that is not a token', (u) => {
      u.method = 'GET /evil';
    }, /^express-error: switchyard: onRequest set upstream.method to "GET \/evil"/],
  ])('%s goes to next(err) and nothing is sent upstream', async (_name, hook, message) => {
    const { up, mw } = await setup(hook);
    const res = await request(appWith(mw)).get('/api/x').expect(500);
    expect(res.text).toMatch(message);
    expect(up.requests).toHaveLength(0);
    expect(mw.stats()[0]).toMatchObject({ requests: 0, active: 0 });
  });
});
