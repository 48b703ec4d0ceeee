/**
 * locateMount: where a real Express 5 / Express 4 / Connect app mounts a middleware, for an
 * upgrade's URL. The apps are real; nothing listens (the walk only reads their routers).
 */
import connect from 'connect';
import express from 'express';
import express4 from 'express4';
import { describe, expect, it } from 'vitest';
import { locateMount, NOT_FOUND, OUTSIDE } from '../../src/websocket/mount-locator.js';

const mw = (_req: unknown, _res: unknown, next: () => void): void => next();
const other = (_req: unknown, _res: unknown, next: () => void): void => next();

type Framework = typeof express;
const frameworks: Array<[string, Framework]> = [
  ['Express 5', express],
  ['Express 4', express4 as unknown as Framework],
];

describe.each(frameworks)('%s', (_name, framework) => {
  function appWith(setup: (app: ReturnType<Framework>) => void): ReturnType<Framework> {
    const app = framework();
    app.use(other);
    setup(app);
    return app;
  }

  it.each([
    ['/chat/room?x=1', '/room?x=1'],
    ['/chat', '/'],
    ['/chat?x=1', '/?x=1'],
    ['/chat/', '/'],
    ['/CHAT/room', '/room'], // case-insensitive by default, as for HTTP
  ])('app.use("/chat"): %s → %s', (url, expected) => {
    expect(locateMount(appWith((app) => app.use('/chat', mw)), mw, url)).toBe(expected);
  });

  it.each(['/chatroom', '/other', '/'])('app.use("/chat"): %s is outside', (url) => {
    expect(locateMount(appWith((app) => app.use('/chat', mw)), mw, url)).toBe(OUTSIDE);
  });

  it('an array of mount paths: each strips its own', () => {
    const app = appWith((a) => a.use(['/a', '/b/c'], mw));
    expect(locateMount(app, mw, '/a/x')).toBe('/x');
    expect(locateMount(app, mw, '/b/c/y')).toBe('/y');
    expect(locateMount(app, mw, '/b/y')).toBe(OUTSIDE);
  });

  it('a regular-expression mount strips what it matched, ending where Express ends a mount', () => {
    const app = appWith((a) => a.use(/^\/v\d+/, mw));
    expect(locateMount(app, mw, '/v2/room')).toBe('/room');
    expect(locateMount(app, mw, '/vx/room')).toBe(OUTSIDE);
    // Express 4 also ends a mount at '.', Express 5 only at '/'.
    expect(locateMount(app, mw, '/v2.json')).toBe(framework === express ? OUTSIDE : '/.json');
  });

  it('nested routers with params; a router that does not take the path passes it on', () => {
    const inner = framework.Router();
    inner.use('/chat', mw);
    const outer = framework.Router();
    outer.use('/t/:tenant', inner);
    const app = appWith((a) => {
      a.use('/v1', outer);
      a.use('/v2', mw);
    });
    expect(locateMount(app, mw, '/v1/t/acme/chat/room')).toBe('/room');
    expect(locateMount(app, mw, '/v1/t/acme/feed')).toBe(OUTSIDE);
    expect(locateMount(app, mw, '/v2/z')).toBe('/z');
  });

  it('the first mount in stack order wins, as Express routes', () => {
    const app = appWith((a) => {
      a.use('/a', mw);
      a.use('/a/b', mw);
    });
    expect(locateMount(app, mw, '/a/b/c')).toBe('/b/c');
  });

  it('a route strips nothing and must match the whole path for GET', () => {
    const app = appWith((a) => {
      a.post('/p', mw);
      a.get('/g/:id', mw);
    });
    expect(locateMount(app, mw, '/g/7?x=1')).toBe('/g/7?x=1');
    expect(locateMount(app, mw, '/g/7/more')).toBe(OUTSIDE);
    expect(locateMount(app, mw, '/p')).toBe(OUTSIDE); // POST only: an upgrade is a GET
  });

  it('NOT_FOUND when the app does not hold the middleware (a wrapper, a sub-app)', () => {
    const wrapped = appWith((a) => a.use('/chat', (req, res, next) => mw(req, res, next)));
    expect(locateMount(wrapped, mw, '/chat/x')).toBe(NOT_FOUND);
    const sub = framework();
    sub.use(mw);
    const parent = appWith((a) => a.use('/api', sub));
    expect(locateMount(parent, mw, '/api/x')).toBe(NOT_FOUND);
  });
});

describe('Connect', () => {
  it.each([
    ['/chat/room', '/room'],
    ['/Chat/room?x=1', '/room?x=1'],
    ['/chat', '/'],
    ['/chat.json', '/.json'], // Connect also ends a route at '.'
    ['/chatroom', OUTSIDE],
  ])('use("/chat"): %s → %s', (url, expected) => {
    const app = connect();
    app.use(other);
    app.use('/chat', mw);
    expect(locateMount(app, mw, url)).toBe(expected);
  });
});

describe('not a framework app', () => {
  it.each([
    ['a bare handler', (): void => {}],
    ['a number', 42],
    ['null', null],
  ])('%s → NOT_FOUND', (_name, handler) => {
    expect(locateMount(handler, mw, '/x')).toBe(NOT_FOUND);
  });
});
