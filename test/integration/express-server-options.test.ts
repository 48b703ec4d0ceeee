/**
 * `expressServerOptions(app)`: a server created with it runs an Express app exactly as
 * `app.listen()` does, with Express 4 and 5, over HTTP and HTTPS, and Express's per-request
 * prototype swap finds the prototypes already in place (so it changes nothing).
 *
 * Every request goes to two servers for the same app: the reference one `app.listen()`
 * would create (`http.createServer(app)`) and one created with the options. The replies
 * must be equal, and match what Express is documented to answer.
 */
import http from 'node:http';
import https from 'node:https';
import connect from 'connect';
import express5 from 'express';
import express4 from 'express4';
import type { Express, NextFunction, Request, Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expressServerOptions, type ExpressAppPrototypes } from '../../src/index.js';
import { generateCerts, type TestCerts } from '../helpers/certs.js';
import { readReply, sendText, type TextReply } from '../helpers/client.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { serveOnLoopback, type OnLoopback } from '../helpers/listen.js';
import { startUpstream, type EchoResponse } from '../helpers/upstream.js';

const { track, proxyFor } = useCleanup({ parallel: true });

type CreateExpress = typeof express5;

/** Where `req` and `res` stood when the server handed them over, before Express saw them. */
interface Arrival {
  reqProtoIsApp: boolean;
  resProtoIsApp: boolean;
}

/**
 * An app that uses the Express features people rely on: `req.get`, `req.query`,
 * `req.params`, `req.app`, `res.locals`, `res.json/send/status/type/redirect/cookie`,
 * a Router, a mounted sub-app, a body parser, an error handler, the final 404, and
 * switchyard itself under `/api`.
 */
function buildApp(express: CreateExpress, upstreamUrl: string): Express {
  const app = express();
  app.use((_req, res, next) => {
    res.locals.user = 'ann';
    next();
  });
  app.get('/info', (req, res) => {
    res.json({
      host: req.get('host'),
      query: req.query,
      path: req.path,
      secure: req.secure,
      appIsApp: req.app === app,
      user: res.locals.user,
      // Express has swapped by now; the prototypes are the app's either way.
      protoIsApp: Object.getPrototypeOf(req) === app.request && Object.getPrototypeOf(res) === app.response,
      reqLinksRes: req.res === res && res.req === req,
    });
  });

  const router = express.Router();
  router.get('/users/:id', (req, res) => {
    res.json({ id: req.params.id, baseUrl: req.baseUrl, originalUrl: req.originalUrl, user: res.locals.user });
  });
  app.use('/r', router);

  const sub = express();
  sub.get('/where', (req, res) => {
    res.json({
      appIsSub: req.app === sub,
      baseUrl: req.baseUrl,
      user: res.locals.user,
      protoIsSub: Object.getPrototypeOf(req) === sub.request,
      parentIsApp: (sub as Express & { parent?: unknown }).parent === app,
    });
  });
  app.use('/sub', sub);
  // Reached after the sub-app passed the request on: Express put the app's prototypes back.
  app.get('/sub/after', (req, res) => {
    res.json({ appIsApp: req.app === app, protoIsApp: Object.getPrototypeOf(req) === app.request, sent: typeof res.send });
  });

  app.post('/echo', express.json(), (req, res) => {
    res.status(201).json({ received: req.body as unknown, type: req.get('content-type') });
  });
  app.get('/text', (_req, res) => {
    res.status(202).type('text').send('plain words');
  });
  app.get('/go', (_req, res) => {
    res.redirect('/info?from=go');
  });
  app.get('/cookie', (req, res) => {
    res.cookie('flavour', 'oat', { httpOnly: true }).clearCookie('old').send(`got ${req.get('cookie') ?? 'none'}`);
  });
  app.get('/boom', () => {
    throw new Error('boom');
  });
  app.use('/api', proxyFor({ targets: upstreamUrl }));
  app.use((err: Error, req: Request, res: Response, _next: NextFunction) => {
    res.status(418).json({ error: err.message, appIsApp: req.app === app, user: res.locals.user });
  });
  return app;
}

/** The two servers a request is sent to: the reference and the one under test. */
interface Servers {
  reference: OnLoopback;
  withOptions: OnLoopback;
  arrivals: Arrival[];
}

async function serveBoth(app: Express): Promise<Servers> {
  const arrivals: Arrival[] = [];
  const options = expressServerOptions(app);
  const withOptions = http.createServer(options, (req, res) => {
    arrivals.push({ reqProtoIsApp: Object.getPrototypeOf(req) === app.request, resProtoIsApp: Object.getPrototypeOf(res) === app.response });
    app(req, res);
  });
  return {
    reference: track(await serveOnLoopback(http.createServer(app))),
    withOptions: track(await serveOnLoopback(withOptions)),
    arrivals,
  };
}

/** What must be equal between the two servers: everything but the Date and Host-dependent bits. */
function comparable(reply: TextReply, port: number): unknown {
  const h = reply.headers;
  return {
    status: reply.status,
    body: reply.body.replaceAll(String(port), 'PORT'),
    contentType: h['content-type'],
    location: h.location,
    setCookie: h['set-cookie'],
    poweredBy: h['x-powered-by'],
  };
}

async function sendBoth(servers: Servers, path: string, init: Parameters<typeof sendText>[1] = {}): Promise<TextReply> {
  const [ref, got] = await Promise.all([
    sendText(`${servers.reference.url}${path}`, init),
    sendText(`${servers.withOptions.url}${path}`, init),
  ]);
  expect(comparable(got, servers.withOptions.port)).toEqual(comparable(ref, servers.reference.port));
  return got;
}

const json = (reply: TextReply): Record<string, unknown> => JSON.parse(reply.body) as Record<string, unknown>;

describe.each([
  ['Express 5', express5],
  ['Express 4', express4 as CreateExpress],
])('expressServerOptions with %s', (_name, express) => {
  async function setUp(): Promise<{ servers: Servers; app: Express }> {
    const upstream = track(await startUpstream({ name: 'up' }));
    const app = buildApp(express, upstream.url);
    return { servers: await serveBoth(app), app };
  }

  it('hands Express req and res whose prototypes already are the app\'s, so its swap changes nothing', async () => {
    const { servers } = await setUp();
    await sendBoth(servers, '/info');
    await sendBoth(servers, '/r/users/7');
    // Object.setPrototypeOf to the prototype an object already has returns without a change
    // (ECMA-262 OrdinarySetPrototypeOf, step 4), so the objects keep their hidden class.
    expect(servers.arrivals).toEqual([
      { reqProtoIsApp: true, resProtoIsApp: true },
      { reqProtoIsApp: true, resProtoIsApp: true },
    ]);
  });

  it('answers req.get, req.query, req.path, req.app, res.locals and res.json as app.listen() does', async () => {
    const { servers } = await setUp();
    const reply = await sendBoth(servers, '/info?a=1&b=two');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(reply.headers['x-powered-by']).toBe('Express');
    expect(json(reply)).toEqual({
      host: `127.0.0.1:${servers.withOptions.port}`,
      query: { a: '1', b: 'two' },
      path: '/info',
      secure: false,
      appIsApp: true,
      user: 'ann',
      protoIsApp: true,
      reqLinksRes: true,
    });
  });

  it('routes through a Router with req.params and req.baseUrl', async () => {
    const { servers } = await setUp();
    const reply = await sendBoth(servers, '/r/users/42?x=1');
    expect(json(reply)).toEqual({ id: '42', baseUrl: '/r', originalUrl: '/r/users/42?x=1', user: 'ann' });
  });

  it('runs a mounted sub-app with its own prototypes, and gives the parent its own back after it', async () => {
    const { servers } = await setUp();
    const inside = await sendBoth(servers, '/sub/where');
    expect(json(inside)).toEqual({ appIsSub: true, baseUrl: '/sub', user: 'ann', protoIsSub: true, parentIsApp: true });
    const after = await sendBoth(servers, '/sub/after');
    expect(json(after)).toEqual({ appIsApp: true, protoIsApp: true, sent: 'function' });
  });

  it('parses a JSON body and answers res.status().json()', async () => {
    const { servers } = await setUp();
    const reply = await sendBoth(servers, '/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ n: 1, s: 'x' }),
    });
    expect(reply.status).toBe(201);
    expect(json(reply)).toEqual({ received: { n: 1, s: 'x' }, type: 'application/json' });
  });

  it('answers res.type().send(), res.redirect() and res.cookie()', async () => {
    const { servers } = await setUp();
    const text = await sendBoth(servers, '/text');
    expect(text.status).toBe(202);
    expect(text.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(text.body).toBe('plain words');

    const redirect = await sendBoth(servers, '/go');
    expect(redirect.status).toBe(302);
    expect(redirect.headers.location).toBe('/info?from=go');

    const cookie = await sendBoth(servers, '/cookie', { headers: { cookie: 'a=b' } });
    expect(cookie.body).toBe('got a=b');
    expect(cookie.headers['set-cookie']?.[0]).toBe('flavour=oat; Path=/; HttpOnly');
    expect(cookie.headers['set-cookie']?.[1]).toMatch(/^old=; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT$/);
  });

  it('sends a thrown error to the error handler, and an unknown path to the final 404', async () => {
    const { servers } = await setUp();
    const boom = await sendBoth(servers, '/boom');
    expect(boom.status).toBe(418);
    expect(json(boom)).toEqual({ error: 'boom', appIsApp: true, user: 'ann' });
    const missing = await sendBoth(servers, '/nowhere');
    expect(missing.status).toBe(404);
    expect(missing.body).toContain('Cannot GET /nowhere');
  });

  it('proxies through switchyard mounted under the app', async () => {
    const { servers } = await setUp();
    const reply = await sendBoth(servers, '/api/items?id=3');
    expect(reply.status).toBe(200);
    const echo = JSON.parse(reply.body) as EchoResponse;
    expect(echo).toMatchObject({ name: 'up', method: 'GET', url: '/items?id=3' });
  });
});

describe('expressServerOptions over HTTPS', () => {
  let certs: TestCerts;
  beforeAll(async () => {
    certs = await generateCerts();
  });
  afterAll(() => certs.cleanup());

  function getOverTls(port: number, path: string): Promise<TextReply> {
    return new Promise((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port, path, ca: certs.ca, agent: false }, (res) => {
        readReply(res).then((r) => resolve({ ...r, body: r.body.toString('utf8') }), reject);
      });
      req.on('error', reject);
    });
  }

  it.each([
    ['Express 5', express5],
    ['Express 4', express4 as CreateExpress],
  ])('runs %s behind https.createServer({ ...tls, ...expressServerOptions(app) }, app)', async (_name, express) => {
    const upstream = track(await startUpstream({ name: 'tls-up' }));
    const app = buildApp(express, upstream.url);
    let arrivedWithAppPrototype = false;
    const server = https.createServer({ key: certs.server.key, cert: certs.server.cert, ...expressServerOptions(app) }, (req, res) => {
      arrivedWithAppPrototype = Object.getPrototypeOf(req) === app.request && Object.getPrototypeOf(res) === app.response;
      app(req, res);
    });
    const front = track(await serveOnLoopback(server));

    const info = await getOverTls(front.port, '/info?q=1');
    expect(arrivedWithAppPrototype).toBe(true);
    expect(info.status).toBe(200);
    expect(JSON.parse(info.body)).toMatchObject({ secure: true, query: { q: '1' }, appIsApp: true, user: 'ann', protoIsApp: true });

    const proxied = await getOverTls(front.port, '/api/over-tls');
    expect(proxied.status).toBe(200);
    expect((JSON.parse(proxied.body) as EchoResponse).url).toBe('/over-tls');
  });
});

describe('expressServerOptions refuses what is not an Express app', () => {
  it.each([
    ['a Connect app', connect() as unknown as ExpressAppPrototypes],
    ['an object with other request/response values', { request: {}, response: {} } as unknown as ExpressAppPrototypes],
    ['undefined', undefined as unknown as ExpressAppPrototypes],
  ])('throws a TypeError naming app.request for %s', (_what, app) => {
    expect(() => expressServerOptions(app)).toThrow(TypeError);
    expect(() => expressServerOptions(app)).toThrow(/app\.request is not an Express request object.*expressServerOptions\(app\), app\)/);
  });
});
