/**
 * Targets that fail. A target nothing listens on, for connection-refused cases
 * (UPSTREAM_UNAVAILABLE with `connected: false`): a port on 127.0.0.1 that was just opened and
 * closed again. Unlike a made-up port it is known free, and the OS hands ephemeral ports out in
 * rotation, so it is not reused while a test runs. And one that closes each connection once the
 * request arrives (`connected: true`).
 */
import net from 'node:net';
import { listenOnLoopback, serveOnLoopback } from './listen.js';

/** `http://127.0.0.1:PORT` whose port refuses connections. */
export async function deadTargetUrl(): Promise<string> {
  const server = net.createServer();
  const port = await listenOnLoopback(server);
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  return `http://127.0.0.1:${port}`;
}

export interface ClosingUpstream {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Requests (first data on a connection) received so far. */
  received(): number;
  /** Destroys every open connection and closes the server. Idempotent. */
  close(): Promise<void>;
}

/**
 * A TCP server that accepts a connection, waits for the request, then closes it without
 * answering: a failure after connecting (UPSTREAM_UNAVAILABLE with `connected: true`).
 */
export async function closingUpstream(): Promise<ClosingUpstream> {
  let received = 0;
  const server = net.createServer((socket) => {
    socket.once('data', () => {
      received++;
      socket.destroy();
    });
  });
  const { url, close } = await serveOnLoopback(server);
  return { url, received: () => received, close };
}
