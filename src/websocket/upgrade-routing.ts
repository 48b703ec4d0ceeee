/**
 * Decides, for one `upgrade` event, whether this middleware takes the upgrade and with which
 * path, so that `server.on('upgrade', mw.upgrade)` is all the wiring a mounted proxy needs:
 *
 * - the middleware mounted at `/chat` takes `/chat/room` as `/room` (see mount-locator.ts);
 * - an upgrade outside its mounts is left alone for the server's other `upgrade` listeners
 *   (a `ws` server, another proxy), unless no listener can take it: then the last switchyard
 *   listener answers 404, because a socket nobody owns would stay open until the client gives up.
 */
import type { IncomingMessage } from 'node:http';
import type { EventEmitter } from 'node:events';
import { locateMount, NOT_FOUND, OUTSIDE, type Located } from './mount-locator.js';

/**
 * Marks switchyard's upgrade listeners and the requests one of them took. `Symbol.for`, so
 * the ESM and CommonJS builds loaded side by side still recognise each other.
 */
const LISTENER = Symbol.for('switchyard.upgradeListener');
const TAKEN = Symbol.for('switchyard.upgradeTaken');

/** What to do with one upgrade. */
export type UpgradeRoute =
  | { readonly take: true; readonly url: string }
  | { readonly take: false; readonly answer404: boolean };

/** Marks `fn` as a switchyard upgrade listener. */
export function markUpgradeListener<T extends object>(fn: T): T {
  Object.defineProperty(fn, LISTENER, { value: true });
  return fn;
}

function isSwitchyardListener(fn: unknown): boolean {
  return typeof fn === 'function' && (fn as unknown as Record<symbol, unknown>)[LISTENER] === true;
}

/** The server that emitted the upgrade: Node sets `socket.server` on every accepted connection. */
function serverOf(req: IncomingMessage): EventEmitter | undefined {
  const server = (req.socket as { server?: unknown }).server;
  return typeof server === 'object' && server !== null && typeof (server as EventEmitter).listeners === 'function'
    ? (server as EventEmitter)
    : undefined;
}

function take(req: IncomingMessage, url: string): UpgradeRoute {
  (req as unknown as Record<symbol, unknown>)[TAKEN] = true;
  return { take: true, url };
}

/**
 * Routes one upgrade for the middleware `mw` whose upgrade listener is `self`. `req.url` is
 * used as the server received it.
 */
export function routeUpgrade(req: IncomingMessage, mw: unknown, self: unknown): UpgradeRoute {
  const url = req.url ?? '/';
  const server = serverOf(req);
  const listeners: unknown[] = server?.listeners('upgrade') ?? [];
  // Called from a listener of the user's own, which routed the upgrade itself (the helper
  // earlier versions documented strips the mount before calling): use the path as given.
  if (server === undefined || !listeners.includes(self)) return take(req, url);
  let located: Located = NOT_FOUND;
  for (const handler of server.listeners('request')) {
    located = locateMount(handler, mw, url);
    if (located !== NOT_FOUND) break;
  }
  if (located === NOT_FOUND) return take(req, url);
  if (located !== OUTSIDE) return take(req, located);
  const taken = (req as unknown as Record<symbol, unknown>)[TAKEN] === true;
  const nobodyElse = !taken && listeners.every(isSwitchyardListener) && listeners[listeners.length - 1] === self;
  return { take: false, answer404: nobodyElse };
}
