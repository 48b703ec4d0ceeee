/**
 * TypeScript that fits the host (issue 13): with `proxy<Request, Response>`, every callback
 * sees Express's `Request` and `Response` without casts; without, Node's own types. Checked
 * by the compiler (`npm run typecheck`) and by vitest's expectTypeOf; one real request shows
 * the same config works at run time.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Request, type Response } from 'express';
import request from 'supertest';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { proxy, type Balancer, type ProxyTarget } from '../../src/index.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { startUpstream } from '../helpers/upstream.js';

const { track } = useCleanup();

describe('callbacks are typed with the host framework', () => {
  it('under Express: req.params, req.body, req.get(), res.locals and res.status() type-check in every callback', async () => {
    const up = track(await startUpstream());
    const stable: Balancer<Request> = {
      targets: [],
      add: () => {
        throw new Error('fixed');
      },
      remove: () => false,
      next(req: Request): ProxyTarget | undefined {
        expectTypeOf(req).toEqualTypeOf<Request>();
        return undefined;
      },
    };
    void stable;
    const mw = proxy<Request, Response>({
      targets: up.url,
      skip: (req) => {
        expectTypeOf(req).toEqualTypeOf<Request>();
        return req.params['skip'] === 'yes';
      },
      headers: {
        'x-user': (req) => (typeof req.body === 'object' && req.body !== null ? String((req.body as { id?: unknown }).id) : undefined),
        'x-agent': (req) => req.get('user-agent'),
      },
      retryFilter: (_err, req) => req.method === 'GET',
      onRequest: (upstream, req, res) => {
        expectTypeOf(res).toEqualTypeOf<Response>();
        res.locals['seen'] = req.path;
        upstream.headers['x-path'] = req.path;
      },
      modifyResponse: (proxyRes, _req, res) => {
        res.set('x-proxied', 'yes');
        res.status(proxyRes.statusCode);
      },
      errorHandler: (err, _req, res) => {
        res.status(err.status).json({ code: err.code });
      },
    });
    expectTypeOf(mw).parameter(0).toEqualTypeOf<Request>();
    const app = express();
    app.use(express.json());
    app.use('/api', mw);
    const res = await request(app).post('/api/x').send({ id: 7 }).expect(200);
    expect(res.headers['x-proxied']).toBe('yes');
    expect(up.requests[0]?.headers).toMatchObject({ 'x-user': '7', 'x-path': '/x' });
  });

  it("without type arguments, Node's own types (bare node:http and Connect)", () => {
    const mw = proxy({
      targets: 'http://127.0.0.1:1',
      skip: (req) => {
        expectTypeOf(req).toEqualTypeOf<IncomingMessage>();
        return false;
      },
      errorHandler: (_err, req, res) => {
        expectTypeOf(req).toEqualTypeOf<IncomingMessage>();
        expectTypeOf(res).toEqualTypeOf<ServerResponse>();
        res.end();
      },
    });
    expectTypeOf(mw).parameter(0).toEqualTypeOf<IncomingMessage>();
    return mw.close();
  });

  it('a header function may return several values (string[])', async () => {
    const up = track(await startUpstream());
    const mw = proxy<Request, Response>({
      targets: up.url,
      headers: { 'x-multi': () => ['a', 'b'] },
      responseHeaders: { 'set-cookie': (req) => [`seen=${req.path.slice(1)}`, 'flag=1'] },
    });
    const app = express();
    app.use(mw);
    const res = await request(app).get('/page').expect(200);
    expect(up.requests[0]?.headers['x-multi']).toBe('a, b');
    expect(res.headers['set-cookie']).toEqual(['seen=page', 'flag=1']);
  });
});
