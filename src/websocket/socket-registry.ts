/**
 * The open WebSocket tunnels of one middleware: each is the client's socket spliced to the
 * upstream's. The registry owns their lifetime, so no socket outlives its partner and
 * `close()` can end every tunnel this middleware opened. undici hands an upgraded socket
 * over and forgets it, so nothing but this registry knows a tunnel still runs.
 */
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * After one side has closed cleanly, how long the other may take to finish its own close
 * (flush what is buffered, send and receive FIN) before it is destroyed: a peer that never
 * answers a FIN must not hold a socket forever.
 */
const HALF_CLOSE_GRACE_MS = 10_000;

interface Tunnel {
  readonly client: Duplex;
  readonly upstream: Duplex;
  readonly onClosed: () => void;
  /** Sockets of this tunnel not closed yet (2, 1, 0). */
  open: number;
  errored: boolean;
  timer: NodeJS.Timeout | undefined;
}

export interface SocketRegistry {
  /**
   * Splices `client` and `upstream` (bytes flow both ways with backpressure) and tracks them
   * until both have closed; `onClosed` then runs once. When one side closes cleanly, the
   * other is ended (its buffered bytes are still delivered) and destroyed if it has not closed
   * within 10 s; when one side fails, the other is destroyed at once.
   */
  open(client: Duplex, upstream: Duplex, onClosed: () => void): void;
  /** Destroys both sockets of every open tunnel; each tunnel's `onClosed` follows as they close. */
  closeAll(): void;
}

function tune(socket: Duplex): void {
  if (!(socket instanceof Socket)) return;
  // Frames are small and interactive: no Nagle delay. Keep-alive probes keep long idle
  // tunnels from being silently dropped by NAT and load balancers in between.
  socket.setNoDelay(true);
  socket.setKeepAlive(true);
}

/** Creates an empty registry. */
export function createSocketRegistry(): SocketRegistry {
  const tunnels = new Set<Tunnel>();

  function onSideClosed(t: Tunnel, closed: Duplex, other: Duplex): void {
    t.open--;
    if (t.open === 0) {
      clearTimeout(t.timer);
      tunnels.delete(t);
      t.onClosed();
      return;
    }
    if (t.errored || !closed.readableEnded) {
      // Reset, error or destroyed mid-stream: nothing more can be relayed either way.
      other.destroy();
      return;
    }
    // A clean close: let the other side flush and close too. Its further data has nowhere to
    // go, so it is read and dropped; reading is also how its peer's FIN is noticed.
    other.end();
    other.resume();
    t.timer = setTimeout(() => other.destroy(), HALF_CLOSE_GRACE_MS);
    t.timer.unref();
  }

  function watch(t: Tunnel, side: Duplex, other: Duplex): void {
    side.on('error', () => {
      t.errored = true;
      other.destroy();
    });
    side.once('close', () => onSideClosed(t, side, other));
  }

  return {
    open(client, upstream, onClosed) {
      const t: Tunnel = { client, upstream, onClosed, open: 2, errored: false, timer: undefined };
      tunnels.add(t);
      watch(t, client, upstream);
      watch(t, upstream, client);
      tune(client);
      tune(upstream);
      upstream.pipe(client);
      client.pipe(upstream);
    },
    closeAll() {
      for (const t of tunnels) {
        t.client.destroy();
        t.upstream.destroy();
      }
    },
  };
}
