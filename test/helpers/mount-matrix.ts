/**
 * The same middleware mounted every way the contract supports, so an integration test can run
 * one set of assertions per mode:
 *
 * ```ts
 * describe.each(mountModes)('%s', (mode) => {
 *   it('forwards the mount-relative path', async () => {
 *     const m = mount(mode, proxy({ targets: up.url }));
 *     const res = await request(m.handler).get(m.clientPath('/users?x=1'));
 *     expect(res.body.url).toBe(m.expectedUpstreamPath(m.clientPath('/users?x=1')));
 *   });
 * });
 * ```
 *
 * | mode             | mounted as                                   | `prefix` | the middleware sees |
 * |------------------|----------------------------------------------|----------|---------------------|
 * | `express-use`    | `app.use('/api', mw)`                        | `/api`   | `/users?x=1` (stripped) |
 * | `express-route`  | `app.all('/r/:id/*rest', mw)`                | `/r/42`  | `/r/42/users?x=1` (a route does not strip; `req.params` = `{ id: '42', rest: ['users'] }`) |
 * | `express-router` | `Router().use('/api', mw)`, `app.use('/', router)` | `/api` | `/users?x=1` |
 * | `express4-*`     | the same three with Express 4 (`express4`); the route is `'/r/:id/*'` | as above | as above |
 * | `connect`        | `connect().use('/api', mw)`                  | `/api`   | `/users?x=1` |
 * | `bare-http`      | `(req, res) => mw(req, res)` (no `next`)     | `''`     | `/users?x=1` |
 *
 * Every mode but `bare-http` ends with two handlers tests can recognise: a request the
 * middleware passes on with `next()` gets 404 `next-called`, and `next(err)` gets 500
 * `next-error: <message>`. In `bare-http` there is no `next`: the middleware answers itself.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import connect from 'connect';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import express4 from 'express4';

export type MountMode =
  | 'express-use' | 'express-route' | 'express-router'
  | 'express4-use' | 'express4-route' | 'express4-router'
  | 'connect' | 'bare-http';

/** Every mode: Express 5 and Express 4 (installed as `express4`) mount the same three ways. */
export const mountModes: MountMode[] = [
  'express-use', 'express-route', 'express-router',
  'express4-use', 'express4-route', 'express4-router',
  'connect', 'bare-http',
];

/** Connect/Express middleware shape; `next` is absent in `bare-http`. */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;

export interface MountOptions {
  /**
   * Middleware run before `mw` on the same path, e.g. `[express.json()]` to test bodies
   * consumed by a body parser. In `bare-http` they are chained by hand.
   */
  before?: Middleware[];
}

export interface Mounted {
  readonly mode: MountMode;
  /** Pass to `listen()`, `http.createServer()` or supertest's `request()`. */
  readonly handler: RequestListener;
  /** What a client path starts with to reach the middleware. */
  readonly prefix: string;
  /** Whether the middleware sees the full client path (route mode) rather than a stripped one. */
  readonly seesFullPath: boolean;
  /** `prefix + rest`, e.g. `clientPath('/users?x=1')` → `/api/users?x=1`. */
  clientPath(rest: string): string;
  /**
   * The path and query the middleware sees for `clientPath` — and so what an upstream without
   * a path prefix receives when nothing rewrites it.
   */
  expectedUpstreamPath(clientPath: string): string;
}

/** Body of the 404 answered when the middleware calls `next()` (not in `bare-http`). */
export const NEXT_CALLED_BODY = 'next-called';
/** Prefix of the 500 body answered when the middleware calls `next(err)`. */
export const NEXT_ERROR_PREFIX = 'next-error: ';

const API_PREFIX = '/api';
const ROUTE_PREFIX = '/r/42';
const ROUTE_PATH = '/r/:id/*rest';
/** The same route in Express 4's path syntax (an unnamed `*`, `req.params[0]`). */
const ROUTE_PATH_4 = '/r/:id/*';

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function notFound(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(NEXT_CALLED_BODY);
}

/** 4 parameters: Express and Connect recognise error handlers by arity. */
function errorHandler(err: unknown, _req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void {
  // Headers already out: let the framework destroy the connection, as it would in production.
  if (res.headersSent) {
    next(err);
    return;
  }
  res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(NEXT_ERROR_PREFIX + errorMessage(err));
}

/** Strips `prefix` the way Express and Connect do: an empty rest becomes `/`. */
function stripPrefix(prefix: string, clientPath: string): string {
  if (!clientPath.startsWith(prefix)) {
    throw new Error(`mount-matrix: client path ${clientPath} does not start with ${prefix}`);
  }
  const rest = clientPath.slice(prefix.length);
  return rest === '' || rest.startsWith('?') ? `/${rest}` : rest;
}

/** Runs `chain` in order with a hand-made `next`, for `bare-http` with `before`. */
function runChain(chain: Middleware[], req: IncomingMessage, res: ServerResponse): void {
  const step = (i: number): void => {
    const mw = chain[i]!;
    if (i === chain.length - 1) {
      mw(req, res); // the middleware under test gets no `next`, as in a bare server
      return;
    }
    mw(req, res, (err?: unknown) => {
      if (err === undefined || err === null) step(i + 1);
      else errorHandler(err, req, res, () => res.destroy());
    });
  };
  step(0);
}

/** Mounts `mw` in `mode`; see the module comment for what each mode does. */
export function mount(mode: MountMode, mw: Middleware, opts: MountOptions = {}): Mounted {
  const before = opts.before ?? [];
  const chain = [...before, mw] as RequestHandler[];

  let handler: RequestListener;
  let prefix = API_PREFIX;
  let seesFullPath = false;

  switch (mode) {
    case 'express-use':
    case 'express-route':
    case 'express-router':
    case 'express4-use':
    case 'express4-route':
    case 'express4-router': {
      const v4 = mode.startsWith('express4');
      const framework = v4 ? express4 : express;
      const app = framework();
      app.disable('x-powered-by'); // keep response headers exactly what the proxy sent
      if (mode.endsWith('-use')) {
        app.use(API_PREFIX, ...chain);
      } else if (mode.endsWith('-route')) {
        app.all(v4 ? ROUTE_PATH_4 : ROUTE_PATH, ...chain);
        prefix = ROUTE_PREFIX;
        seesFullPath = true;
      } else {
        const router = framework.Router();
        router.use(API_PREFIX, ...chain);
        app.use('/', router);
      }
      app.use(notFound);
      app.use(errorHandler as ErrorRequestHandler);
      handler = app;
      break;
    }
    case 'connect': {
      const app = connect();
      for (const fn of chain) app.use(API_PREFIX, fn as connect.NextHandleFunction);
      app.use(notFound);
      app.use(errorHandler);
      handler = app;
      break;
    }
    case 'bare-http':
      prefix = '';
      seesFullPath = true;
      handler = before.length === 0 ? (req, res) => mw(req, res) : (req, res) => runChain([...before, mw], req, res);
      break;
  }

  return {
    mode,
    handler,
    prefix,
    seesFullPath,
    clientPath: (rest) => prefix + rest,
    expectedUpstreamPath: (clientPath) => (seesFullPath ? clientPath : stripPrefix(prefix, clientPath)),
  };
}
