/**
 * The only importer of http-proxy-3. Sends one attempt to one target and reports how it
 * ended: upstream response headers, a failure, or a client that went away. It knows nothing
 * of retries, balancing or how the response is written.
 *
 * http-proxy-3 quirks hidden here (see ARCHITECTURE.md):
 * - it reads the path and headers from `req`: they are swapped in for the synchronous
 *   `web()` call and restored, so `req` is never left mutated and our precomputed path is
 *   sent byte for byte (`toProxy` skips its URL re-parse, which would resolve `%2e`);
 * - its deleteLength / timeout / XHeaders passes mutate `req.headers` and would send a
 *   chunked DELETE body with `Content-Length: 0`: only its `stream` pass runs;
 * - `proxyTimeout` surfaces as ECONNRESET: our own timers decide `UPSTREAM_TIMEOUT`;
 * - without an agent it sends `Connection: close`: the pooled agent is always passed;
 * - a request stream pipes once: the caller passes a fresh `body` stream per attempt;
 * - it throws without an `error` listener: one is always attached.
 * Its fetch path (`fetch`, `fetchOptions`) ignores the agent and is never enabled.
 */
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { createProxyServer, type ServerOptions } from 'http-proxy-3';
import type { FailureKind } from '../errors/classify-error.js';
import { targetAddress } from '../routing/target-address.js';
import type { ProxyTarget } from '../types.js';
import type { Agents } from './agent.js';

/** One attempt to send the request to one target. */
export interface ForwardRequest {
  readonly target: ProxyTarget;
  /** Full upstream path and query (target prefix already joined), sent as is. */
  readonly path: string;
  /** Upstream request headers, `host` included. */
  readonly headers: OutgoingHttpHeaders;
  /** A fresh body stream for this attempt, or undefined to stream `req` itself. */
  readonly body: Readable | undefined;
}

/** How an attempt ended. */
export type ForwardResult =
  | { readonly kind: 'response'; readonly proxyRes: IncomingMessage }
  | { readonly kind: 'failed'; readonly failure: FailureKind; readonly cause: unknown; readonly connected: boolean }
  | { readonly kind: 'aborted' };

export interface Forwarder {
  forward(req: IncomingMessage, res: ServerResponse, request: ForwardRequest): Promise<ForwardResult>;
  /** Removes listeners from the underlying proxy server. */
  close(): void;
}

export interface ForwarderOptions {
  readonly agents: Agents;
  readonly timeout: number;
  readonly connectTimeout: number;
  readonly verifyTls: boolean;
}

/** Per-attempt state, handed through http-proxy-3's options object under a symbol key. */
interface Attempt {
  readonly resolve: (result: ForwardResult) => void;
  readonly res: ServerResponse;
  settled: boolean;
  connected: boolean;
  proxyReq: ClientRequest | undefined;
  /** One timer per attempt: first the connect deadline (when earlier), then the response deadline. */
  timer: NodeJS.Timeout | undefined;
  onClientClose: (() => void) | undefined;
}

const ATTEMPT = Symbol('switchyard.attempt');
type AttemptOptions = ServerOptions & { [ATTEMPT]?: Attempt };

const ABORTED: ForwardResult = Object.freeze({ kind: 'aborted' });

function settle(a: Attempt, result: ForwardResult): void {
  if (a.settled) return;
  a.settled = true;
  clearTimeout(a.timer);
  if (a.onClientClose !== undefined) a.res.off('close', a.onClientClose);
  if (result.kind !== 'response') a.proxyReq?.destroy();
  a.resolve(result);
}

function fail(a: Attempt, failure: FailureKind, cause: unknown): void {
  settle(a, { kind: 'failed', failure, cause, connected: a.connected });
}

function onResponseDeadline(a: Attempt): void {
  fail(a, 'timeout', new Error('upstream response timeout'));
}

/** The connect deadline passed: fail if still connecting, else wait out the rest of `timeout`. */
function onConnectDeadline(a: Attempt, rest: number): void {
  if (!a.connected) return fail(a, 'connect-timeout', new Error('upstream connect timeout'));
  a.timer = unref(setTimeout(onResponseDeadline, rest, a));
}

function markConnected(a: Attempt): void {
  a.connected = true;
}

/** `req.destroyed` is no sign: Node auto-destroys a request stream once its body was read. */
function clientGone(req: IncomingMessage, res: ServerResponse): boolean {
  return res.destroyed || req.socket?.destroyed === true;
}

/** http-proxy-3 emits `proxyReq` once the request has a socket: watch its connect and response. */
function onProxyReq(a: Attempt, proxyReq: ClientRequest, socket: Socket): void {
  if (a.settled) {
    // Timed out while queued for a pooled socket: never send it.
    proxyReq.destroy();
    return;
  }
  a.proxyReq = proxyReq;
  if (proxyReq.reusedSocket || !socket.connecting) markConnected(a);
  else socket.once('encrypted' in socket ? 'secureConnect' : 'connect', () => markConnected(a));
  proxyReq.once('response', (proxyRes: IncomingMessage) => settle(a, { kind: 'response', proxyRes }));
}

/**
 * http-proxy-3 builds the outgoing options on top of `options.ssl` and rebuilds the path with
 * its urlJoin, which drops a lone trailing `?` (`/p?` → `/p`). A fresh base object per attempt
 * whose `path` always reads as ours keeps the request target byte for byte.
 */
function exactPathBase(path: string, base: object = {}): object {
  return Object.defineProperty(base, 'path', { get: () => path, set: () => {}, enumerable: true });
}

function outgoingBase(path: string, tls: object | undefined): object | undefined {
  return path.endsWith('?') ? exactPathBase(path, tls) : tls;
}

function unref(timer: NodeJS.Timeout): NodeJS.Timeout {
  timer.unref();
  return timer;
}

/** Creates the forwarder of one middleware: one http-proxy-3 server, our agents, our timers. */
export function createForwarder(opts: ForwarderOptions): Forwarder {
  const server = createProxyServer({});
  const passes = server as unknown as { webPasses: Array<{ name: string }> };
  passes.webPasses = passes.webPasses.filter((pass) => pass.name === 'stream');
  // Errors always reach the per-call callback; this listener only keeps http-proxy-3 from throwing.
  server.on('error', () => {});
  server.on('proxyReq', (proxyReq, _req, _res, options, socket) => {
    const attempt = (options as AttemptOptions)[ATTEMPT];
    if (attempt !== undefined) onProxyReq(attempt, proxyReq, socket);
  });

  function forward(req: IncomingMessage, res: ServerResponse, request: ForwardRequest): Promise<ForwardResult> {
    return new Promise((resolve) => {
      const a: Attempt = { resolve, res, settled: false, connected: false, proxyReq: undefined, timer: undefined, onClientClose: undefined };
      a.timer = unref(
        opts.connectTimeout < opts.timeout
          ? setTimeout(onConnectDeadline, opts.connectTimeout, a, opts.timeout - opts.connectTimeout)
          : setTimeout(onResponseDeadline, opts.timeout, a),
      );
      a.onClientClose = () => {
        if (!res.writableFinished) settle(a, ABORTED);
      };
      res.once('close', a.onClientClose);
      const url = request.target.url;
      const secure = targetAddress(request.target).secure;
      const options: AttemptOptions = {
        target: url,
        agent: secure ? opts.agents.https : opts.agents.http,
        buffer: request.body,
        selfHandleResponse: true,
        toProxy: true,
        // Only the rare lone trailing `?` needs the exact-path base; skip its cost otherwise.
        // TLS gets a fresh `{ servername }` per attempt (http-proxy-3 writes into `ssl`).
        ssl: outgoingBase(request.path, secure ? { servername: opts.agents.servername(url) } : undefined),
        prependPath: false,
        secure: opts.verifyTls,
        [ATTEMPT]: a,
      };
      // A replayed body re-raises the client's errors (an abort mid-upload). http-proxy-3 only
      // listens on `req`, and an unheard 'error' would take the whole process down.
      request.body?.on('error', (err) => {
        if (clientGone(req, res)) settle(a, ABORTED);
        else fail(a, 'error', err);
      });
      const savedUrl = req.url;
      const savedHeaders = req.headers;
      req.url = request.path;
      req.headers = request.headers as IncomingHttpHeaders;
      try {
        server.web(req, res, options, (err) => {
          if (clientGone(req, res)) settle(a, ABORTED);
          else fail(a, 'error', err);
        });
      } catch (err) {
        fail(a, 'error', err);
      } finally {
        req.url = savedUrl;
        req.headers = savedHeaders;
      }
    });
  }

  return {
    forward,
    close() {
      server.removeAllListeners('proxyReq');
    },
  };
}
