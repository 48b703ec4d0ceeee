/**
 * The proxy side of a test: serve a handler (an Express app, a Connect app, a bare
 * `(req, res)` function) on 127.0.0.1 with a random port, and talk raw HTTP to it.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';

/** Anything `http.createServer` accepts: an Express or Connect app, or `(req, res) => …`. */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

export interface Listening {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  /** The server, e.g. to add `server.on('upgrade', mw.upgrade)`. */
  readonly server: http.Server;
  /** Client connections open right now. */
  openSockets(): number;
  /** Destroys every open connection and closes the server. Idempotent. */
  close(): Promise<void>;
}

/** Tracks a server's sockets so `close()` never waits on a keep-alive connection. */
export function trackSockets(server: net.Server): { sockets: Set<Socket>; total: () => number } {
  const sockets = new Set<Socket>();
  let total = 0;
  server.on('connection', (socket: Socket) => {
    total += 1;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return { sockets, total: () => total };
}

/** Listens on 127.0.0.1 port 0; resolves with the port and the bound address. */
export async function listenOnLoopback(server: net.Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Listens on the Unix socket `path` (a fresh one: see socket-dir.ts). */
export async function listenOnSocket(server: net.Server, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Destroys `sockets` and closes `server`; resolves once the server is closed (also when it
 * already was) and every socket has emitted `close`, so counts read afterwards are final.
 */
export async function closeServer(server: net.Server, sockets: Set<Socket>): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Every socket still in the set has not emitted `close` yet (the tracker removes it then).
  const socketsClosed = Array.from(sockets, (socket) => {
    const done = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.destroy();
    return done;
  });
  await Promise.all([closed, ...socketsClosed]);
}

/** A server listening on 127.0.0.1 with its sockets tracked (see {@link serveOnLoopback}). */
export interface OnLoopback {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  /** Connections accepted in total. */
  connections(): number;
  /** Connections open right now. */
  openSockets(): number;
  /** Destroys every open connection and closes the server. Idempotent. */
  close(): Promise<void>;
}

/**
 * Listens `server` (any net.Server: http, https, raw TCP) on 127.0.0.1 at a random port,
 * tracking its sockets so `close()` never waits on an open connection.
 */
export async function serveOnLoopback(server: net.Server): Promise<OnLoopback> {
  const { sockets, total } = trackSockets(server);
  const port = await listenOnLoopback(server);
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connections: total,
    openSockets: () => sockets.size,
    close: () => (closing ??= closeServer(server, sockets)),
  };
}

/** Serves `handler` on 127.0.0.1 at a random port. */
export async function listen(handler: RequestHandler): Promise<Listening> {
  const server = http.createServer((req, res) => {
    handler(req, res);
  });
  const { url, port, openSockets, close } = await serveOnLoopback(server);
  return { url, port, server, openSockets, close };
}

export interface RawRequestOptions {
  /** Resolve after this many ms without receiving anything. @default 1000 */
  timeoutMs?: number;
  /** Host to connect to. @default '127.0.0.1' */
  host?: string;
  /**
   * How `rawText` is turned into bytes and the reply into a string. The default keeps bytes
   * exact: each character is one byte (`'\xff'` sends 0xFF), so non-ASCII UTF-8 in a reply
   * shows up as several characters. @default 'latin1'
   */
  encoding?: BufferEncoding;
}

/**
 * Writes `rawText` as is over a new TCP connection (for protocol-level cases: absolute-form
 * targets, duplicate headers, smuggling attempts) and resolves with everything received until
 * the server closes or resets the connection, or nothing arrives for `timeoutMs`. Send
 * `Connection: close` to avoid waiting out the idle timeout on a keep-alive reply.
 * Rejects only when the connection cannot be made.
 *
 * ```ts
 * const reply = await rawRequest(port, 'GET /api/../../etc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
 * expect(reply).toMatch(/^HTTP\/1\.1 400 /);
 * ```
 */
export function rawRequest(port: number, rawText: string, opts: RawRequestOptions = {}): Promise<string> {
  const { timeoutMs = 1000, host = '127.0.0.1', encoding = 'latin1' } = opts;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let connected = false;
    const socket = net.connect({ port, host }, () => {
      connected = true;
      socket.write(Buffer.from(rawText, encoding));
    });
    const finish = (): void => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString(encoding));
    };
    socket.setTimeout(timeoutMs, finish);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', (err) => {
      // A reset after connecting counts as the server closing; before, it is a failure.
      if (connected) finish();
      else reject(err);
    });
  });
}
