/**
 * The proxy that serves new requests, and the ones a reload (SIGHUP) replaced: a replaced
 * proxy keeps serving what it already started — requests in flight and open WebSockets — and
 * is closed (health checks stopped, pools released) once the last of those is done.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ProxyMiddleware } from '../types.js';

/** One proxy and what it is serving. */
export interface Slot {
  readonly mw: ProxyMiddleware;
  readonly ws: boolean;
  /** Requests and WebSocket tunnels it is serving. */
  open: number;
  retired: boolean;
  closed: Promise<void> | undefined;
}

/** The live proxy and the retired ones still finishing. */
export interface ProxySlots {
  /** The proxy new requests go to. */
  current(): ProxyMiddleware;
  /**
   * The current proxy, held for one request until {@link leave}: the server calls `slot.mw`
   * itself, so one `close` listener per request does all the bookkeeping.
   */
  enter(): Slot;
  /** Releases a slot taken with {@link enter} (when the response closes). */
  leave(slot: Slot): void;
  /** Serves an upgrade on the current proxy (held until the socket closes), or refuses it when `ws` is off. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Makes `mw` the current proxy; the previous one is closed once its requests and tunnels are done. */
  swap(mw: ProxyMiddleware, ws: boolean): void;
  /** Closes every proxy now, current and retired (their tunnels end with them). */
  closeAll(): Promise<void>;
}

export function createProxySlots(mw: ProxyMiddleware, ws: boolean): ProxySlots {
  const slot = (m: ProxyMiddleware, w: boolean): Slot => {
    const created: Slot = { mw: m, ws: w, open: 0, retired: false, closed: undefined };
    unclosed.add(created);
    return created;
  };
  // Every proxy not closed yet: the live one, retired ones still serving, ones closing.
  const unclosed = new Set<Slot>();
  const closeSlot = (s: Slot): Promise<void> =>
    (s.closed ??= s.mw.close().finally(() => unclosed.delete(s)));
  let live = slot(mw, ws);
  const release = (s: Slot): void => {
    s.open--;
    if (s.retired && s.open === 0) void closeSlot(s);
  };
  return {
    current: () => live.mw,
    enter() {
      live.open++;
      return live;
    },
    leave: release,
    upgrade(req, socket, head) {
      const s = live;
      // What Node does with an upgrade nobody listens for.
      if (!s.ws) return void socket.destroy();
      s.open++;
      socket.once('close', () => release(s));
      s.mw.upgrade(req, socket, head);
    },
    swap(next, nextWs) {
      const old = live;
      live = slot(next, nextWs);
      old.retired = true;
      if (old.open === 0) void closeSlot(old);
    },
    async closeAll() {
      await Promise.all([...unclosed].map(closeSlot));
    },
  };
}
