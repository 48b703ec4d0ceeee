/**
 * `expressServerOptions(app)`: the `IncomingMessage` / `ServerResponse` classes to create an
 * Express app's server with, so Express's per-request prototype swap costs nothing.
 *
 * Why: Express (4 and 5) gives every `req` and `res` its methods with
 * `Object.setPrototypeOf(req, app.request)` (and the same for `res`). In V8 an object whose
 * prototype was changed no longer shares hidden classes with its siblings, so every property
 * access on `req` and `res` afterwards, in Express, in every middleware and inside
 * `node:http` itself, misses V8's inline caches (expressjs/express#5998; measured in
 * docs/performance.md, "Express's hidden cost"). When the server builds `req` and `res` with
 * `app.request` / `app.response` as their prototypes from the start, the swap sets the
 * prototype an object already has, which V8 skips, and every request keeps one shared
 * hidden class.
 *
 * Only public APIs: `http.createServer`'s `IncomingMessage` / `ServerResponse` options and
 * Express's documented `app.request` / `app.response` objects.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';

/** What {@link expressServerOptions} needs of an Express app (4 or 5): its two prototype objects. */
export interface ExpressAppPrototypes {
  /** The prototype Express gives every `req` (`Object.create(express.request)` per app). */
  readonly request: IncomingMessage;
  /** The prototype Express gives every `res`. */
  readonly response: ServerResponse;
}

/** The server options {@link expressServerOptions} returns: spread or pass them to `createServer`. */
export interface ExpressServerOptions {
  /** Builds each `req` with `app.request` as its prototype. */
  readonly IncomingMessage: typeof IncomingMessage;
  /** Builds each `res` with `app.response` as its prototype. */
  readonly ServerResponse: typeof ServerResponse;
}

/**
 * The options that make `http.createServer(options, app)` (or `https.createServer`) build
 * `req` and `res` with the Express app's own prototypes, so the prototype swap Express does
 * on every request is a no-op and V8 keeps one hidden class for all of them. The app behaves
 * exactly as under `app.listen()`: `req.get`, `res.send`, `res.json`, `req.app`,
 * `res.locals`, routers, error handlers and mounted sub-apps (which still swap to their own
 * prototypes while they run, at the usual cost there). Express 4 and 5.
 *
 * ```ts
 * import http from 'node:http';
 * import express from 'express';
 * import { proxy, expressServerOptions } from 'switchyard';
 *
 * const app = express();
 * app.use('/api', proxy({ targets: ['http://127.0.0.1:3001', 'http://127.0.0.1:3002'] }));
 * // instead of app.listen(8080):
 * http.createServer(expressServerOptions(app), app).listen(8080);
 * // HTTPS: https.createServer({ key, cert, ...expressServerOptions(app) }, app)
 * ```
 *
 * Pass the app that is given to the server (the outermost one). Set up the app first if
 * you replace `app.request` or `app.response` wholesale: the options capture the objects
 * these properties hold when this is called.
 * @throws TypeError when `app.request` / `app.response` are not Express's request and
 * response objects (a Connect app has none: it needs no options).
 */
export function expressServerOptions(app: ExpressAppPrototypes): ExpressServerOptions {
  const request = prototypeOf(app, 'request', http.IncomingMessage);
  const response = prototypeOf(app, 'response', http.ServerResponse);
  return {
    IncomingMessage: withPrototype(http.IncomingMessage, request),
    ServerResponse: withPrototype(http.ServerResponse, response),
  };
}

function prototypeOf(app: ExpressAppPrototypes, key: 'request' | 'response', base: typeof IncomingMessage | typeof ServerResponse): object {
  const value: unknown = (app as Partial<ExpressAppPrototypes> | null | undefined)?.[key];
  if (!(value instanceof base)) {
    throw new TypeError(
      `expressServerOptions(app): app.${key} is not an Express ${key} object (it must inherit from http.${base.name}); ` +
        'pass the Express app itself, e.g. const app = express(); http.createServer(expressServerOptions(app), app)',
    );
  }
  return value;
}

type Constructor = abstract new (...args: never[]) => object;

/**
 * A constructor that runs `Base` and whose instances have `prototype` (not `Base.prototype`).
 *
 * It is a plain function that calls `Base` on the object `new` made, because that object
 * comes from the function's own initial map: one hidden class shared by every instance.
 * `Reflect.construct(Base, args, target)` would give the same prototype, but V8 caches the
 * derived map only when `target` is a `class … extends` constructor (whose `prototype`
 * cannot be set), so each instance would get a fresh map: the very cost this module exists
 * to avoid. Node's `IncomingMessage` and `ServerResponse` are plain functions (Node's own
 * subclasses call them this way); should one become a `class`, which cannot be called, the
 * fallback keeps the behaviour correct at the old speed.
 */
export function withPrototype<T extends Constructor>(Base: T, prototype: object): T {
  const Derived = isClass(Base) ? constructing(Base, prototype) : calling(Base);
  Derived.prototype = prototype;
  // Statics (`IncomingMessage.prototype` aside) are looked up on Base, as for a subclass.
  Object.setPrototypeOf(Derived, Base);
  Object.defineProperty(Derived, 'name', { value: Base.name });
  return Derived as unknown as T;
}

function calling(Base: Constructor): (this: object, ...args: unknown[]) => void {
  const init = Base as unknown as (...args: unknown[]) => unknown;
  return function (this: object, ...args: unknown[]): void {
    Reflect.apply(init, this, args);
  };
}

function constructing(Base: Constructor, prototype: object): (this: object, ...args: unknown[]) => object {
  // Never called itself: Reflect.construct reads only its `prototype`.
  const target = function (): void {};
  target.prototype = prototype;
  return function (...args: unknown[]): object {
    return Reflect.construct(Base, args, target) as object;
  };
}

function isClass(fn: Constructor): boolean {
  return /^class\b/.test(Function.prototype.toString.call(fn));
}
