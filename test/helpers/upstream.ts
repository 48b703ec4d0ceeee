/**
 * Real upstream servers for tests: HTTP on 127.0.0.1 at a random port, recording every request
 * (with its body) and counting TCP connections, so tests can assert what crossed the proxy.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listenOnLoopback, listenOnSocket, trackSockets } from './listen.js';

/** What an upstream saw of one request. */
export interface RecordedRequest {
  readonly method: string;
  /** The request target as received (path and query). */
  readonly url: string;
  /** Node's parsed headers (lower-case names). */
  readonly headers: IncomingHttpHeaders;
  /** Names and values in the order and letter case they were sent. */
  readonly rawHeaders: readonly string[];
  /** Bytes received so far; the whole body once `complete` is true. */
  readonly body: Buffer;
  /** Whether the whole body has arrived. */
  readonly complete: boolean;
  /** The proxy's source port: equal ports mean a reused (keep-alive) connection. */
  readonly remotePort: number | undefined;
}

/** A request handler for an upstream; may be async (a rejection answers 500). */
export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface UpstreamOptions {
  /** Reported by the default handler as `name`. @default 'upstream' */
  name?: string;
  /**
   * Listen on this Unix socket instead of 127.0.0.1 (make it in a {@link socketDir}); `url` is
   * then the target string `'unix:<path>'` and `port` is 0. @default 127.0.0.1, a random port
   */
  socketPath?: string;
}

export interface Upstream {
  readonly name: string;
  /** `http://127.0.0.1:PORT`, no trailing slash (`unix:<path>` with `socketPath`). */
  readonly url: string;
  readonly port: number;
  /** The Unix socket listened on, if any. */
  readonly socketPath: string | undefined;
  readonly server: http.Server;
  /** Every request received, in arrival order (recorded as soon as its headers arrive). */
  readonly requests: RecordedRequest[];
  /** TCP connections accepted in total. */
  readonly connections: number;
  /** TCP connections open right now. */
  openSockets(): number;
  /** Destroys every open socket and closes the server. Idempotent. */
  close(): Promise<void>;
}

/** The JSON the default handler answers with. */
export interface EchoResponse {
  name: string;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  bodyLength: number;
}

function echoHandler(name: string): UpstreamHandler {
  return async (req, res) => {
    let bodyLength = 0;
    for await (const chunk of req) bodyLength += (chunk as Buffer).length;
    const echo: EchoResponse = {
      name,
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      bodyLength,
    };
    const body = JSON.stringify(echo);
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };
}

/**
 * Records `req` without consuming it: the HTTP parser hands each body chunk to `req.push()`
 * (and `null` at the end), so wrapping that sees the body whether or not — and however — the
 * handler reads it, and leaves its flow and backpressure unchanged.
 */
function record(req: IncomingMessage): RecordedRequest {
  const chunks: Buffer[] = [];
  let complete = false;
  const push = req.push.bind(req);
  req.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (chunk === null) complete = true;
    else if (Buffer.isBuffer(chunk)) chunks.push(chunk);
    else if (typeof chunk === 'string') chunks.push(Buffer.from(chunk, encoding));
    return push(chunk, encoding);
  };
  return {
    method: req.method ?? '',
    url: req.url ?? '',
    headers: req.headers,
    rawHeaders: req.rawHeaders,
    get body() {
      return Buffer.concat(chunks);
    },
    get complete() {
      return complete;
    },
    remotePort: req.socket.remotePort,
  };
}

/**
 * Starts an upstream on 127.0.0.1 at a random port. Without a handler it reads the body and
 * answers 200 JSON {@link EchoResponse} `{ name, method, url, headers, bodyLength }`.
 *
 * ```ts
 * const up = await startUpstream();                        // echo, name 'upstream'
 * const slow = await startUpstream((req, res) => { … }, { name: 'slow' });
 * const b = await startUpstream({ name: 'b' });            // echo, named
 * afterEach(() => up.close());
 * ```
 */
export async function startUpstream(
  handlerOrOptions?: UpstreamHandler | UpstreamOptions,
  opts: UpstreamOptions = {},
): Promise<Upstream> {
  const options = typeof handlerOrOptions === 'object' ? handlerOrOptions : opts;
  const name = options.name ?? 'upstream';
  const handler = typeof handlerOrOptions === 'function' ? handlerOrOptions : echoHandler(name);

  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    requests.push(record(req));
    Promise.resolve()
      .then(() => handler(req, res))
      .catch((err: unknown) => {
        if (res.headersSent) res.destroy();
        else res.writeHead(500, { 'content-type': 'text/plain' }).end(`upstream handler failed: ${String(err)}`);
      });
  });
  const { sockets, total } = trackSockets(server);
  const socketPath = options.socketPath;
  const port = socketPath === undefined ? await listenOnLoopback(server) : (await listenOnSocket(server, socketPath), 0);

  let closing: Promise<void> | undefined;
  return {
    name,
    url: socketPath === undefined ? `http://127.0.0.1:${port}` : `unix:${socketPath}`,
    port,
    socketPath,
    server,
    requests,
    get connections() {
      return total();
    },
    openSockets: () => sockets.size,
    close: () => (closing ??= closeServer(server, sockets)),
  };
}

/**
 * Starts `n` upstreams named `u0`, `u1`, …: echo servers, or each with the handler
 * `makeHandler(name, index)` returns (e.g. to make only `u1` fail).
 */
export function startUpstreams(
  n: number,
  makeHandler?: (name: string, index: number) => UpstreamHandler,
): Promise<Upstream[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) => {
      const name = `u${i}`;
      return makeHandler === undefined ? startUpstream({ name }) : startUpstream(makeHandler(name, i), { name });
    }),
  );
}

/** Closes every upstream given (for `afterEach`). */
export async function closeAll(upstreams: Iterable<{ close(): Promise<void> }>): Promise<void> {
  await Promise.all(Array.from(upstreams, (u) => u.close()));
}
