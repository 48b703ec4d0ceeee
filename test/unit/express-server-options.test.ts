// The point of expressServerOptions is V8's hidden classes: every req (and every res) must
// share one, before and after Express's prototype swap. V8's own test intrinsic
// %HaveSameMap says whether two objects do; it needs --allow-natives-syntax, which can be
// switched on at run time for functions compiled afterwards.
import http from 'node:http';
import { Socket } from 'node:net';
import v8 from 'node:v8';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { expressServerOptions, withPrototype } from '../../src/server/express-server-options.js';

v8.setFlagsFromString('--allow-natives-syntax');
// Compiled after the flag is set: the parser only accepts the intrinsic then.
const haveSameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;

/** What Express 5's app.handle and router do to every request, in that order. */
function likeExpress(app: express.Express, req: http.IncomingMessage, res: http.ServerResponse): void {
  Object.assign(req, { res });
  Object.setPrototypeOf(req, app.request);
  Object.setPrototypeOf(res, app.response);
  Object.assign(res, { locals: Object.create(null) as object });
  Object.assign(req, { next: () => {}, baseUrl: '', originalUrl: '/' });
}

describe('expressServerOptions: one hidden class for every req and res', () => {
  it('builds req and res on the app\'s prototypes, sharing one hidden class after Express has run', () => {
    const app = express();
    const { IncomingMessage, ServerResponse } = expressServerOptions(app);
    const pairs = [0, 1, 2].map(() => {
      const req = new IncomingMessage(new Socket());
      const res = new ServerResponse(req);
      likeExpress(app, req, res);
      return { req, res };
    });
    for (const { req, res } of pairs) {
      expect(Object.getPrototypeOf(req)).toBe(app.request);
      expect(Object.getPrototypeOf(res)).toBe(app.response);
      expect(req).toBeInstanceOf(http.IncomingMessage);
      expect(res).toBeInstanceOf(http.ServerResponse);
    }
    expect(haveSameMap(pairs[0]!.req, pairs[1]!.req)).toBe(true);
    expect(haveSameMap(pairs[1]!.req, pairs[2]!.req)).toBe(true);
    expect(haveSameMap(pairs[0]!.res, pairs[1]!.res)).toBe(true);
    expect(haveSameMap(pairs[1]!.res, pairs[2]!.res)).toBe(true);
  });

  it('keeps the statics and the name of node:http\'s classes', () => {
    const { IncomingMessage, ServerResponse } = expressServerOptions(express());
    expect(IncomingMessage.name).toBe('IncomingMessage');
    expect(ServerResponse.name).toBe('ServerResponse');
    expect(Object.getPrototypeOf(IncomingMessage)).toBe(http.IncomingMessage);
    expect(Object.getPrototypeOf(ServerResponse)).toBe(http.ServerResponse);
  });
});

describe('withPrototype', () => {
  it('runs a plain-function base on instances whose prototype is the one given', () => {
    function Base(this: { x: number }, x: number): void {
      this.x = x;
    }
    const proto = Object.create(Base.prototype as object, { tag: { value: 'mine' } }) as { tag: string };
    const Derived = withPrototype(Base as unknown as new (x: number) => { x: number }, proto);
    const a = new Derived(1);
    const b = new Derived(2);
    expect([a.x, b.x]).toEqual([1, 2]);
    expect(Object.getPrototypeOf(a)).toBe(proto);
    expect((a as unknown as { tag: string }).tag).toBe('mine');
    expect(haveSameMap(a, b)).toBe(true);
  });

  it('still gives the right prototype and state when the base is a class, which cannot be called', () => {
    class Base {
      readonly args: unknown[];
      constructor(...args: unknown[]) {
        this.args = args;
      }
    }
    const proto = Object.create(Base.prototype as object) as Base;
    const Derived = withPrototype(Base, proto);
    const a = new Derived('a', 2);
    expect(a.args).toEqual(['a', 2]);
    expect(Object.getPrototypeOf(a)).toBe(proto);
    expect(a).toBeInstanceOf(Base);
  });
});
