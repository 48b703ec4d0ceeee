/**
 * A target nothing listens on, for connection-refused cases (UPSTREAM_UNAVAILABLE with
 * `connected: false`): a port on 127.0.0.1 that was just opened and closed again. Unlike a
 * made-up port it is known free, and the OS hands ephemeral ports out in rotation, so it is not
 * reused while a test runs.
 */
import net from 'node:net';
import { listenOnLoopback } from './listen.js';

/** `http://127.0.0.1:PORT` whose port refuses connections. */
export async function deadTargetUrl(): Promise<string> {
  const server = net.createServer();
  const port = await listenOnLoopback(server);
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  return `http://127.0.0.1:${port}`;
}
