/**
 * The shared set-up of the suites about where a request goes (paths.test.ts, rewrite.test.ts):
 * a fresh echo upstream per test, proxies and servers closed after it, and a client that sends
 * the request target byte for byte (superagent would normalise it first).
 *
 * ```ts
 * const routing = useRoutingSuite();
 * let up: Upstream;
 * beforeEach(() => {
 *   up = routing.up;
 * });
 *
 * it('…', async () => {
 *   const m = routing.mw({ targets: up.url });
 *   const server = await routing.serve((req, res) => m(req, res));
 *   const res = await sendPath(server.port, '/a%2Fb?x');
 *   expect(routing.onlyUpstreamUrl()).toBe('/a%2Fb?x');
 * });
 * ```
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { afterEach, beforeEach, expect } from 'vitest';
import { proxy, type ProxyConfig, type ProxyMiddleware } from '../../src/index.js';
import { sendText } from './client.js';
import { listen, serveOnLoopback, type Listening, type OnLoopback } from './listen.js';
import { startUpstream, type Upstream } from './upstream.js';

/** The JSON body of the built-in 400 answer. */
export const BAD_REQUEST_JSON = { error: { status: 400, code: 'BAD_REQUEST', message: 'Bad Request' } };

export interface PathReply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** GET (or `method`) `path` on 127.0.0.1:`port` exactly as written: node:http sends the request target untouched. */
export async function sendPath(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<PathReply> {
  const { status, headers: replyHeaders, body } = await sendText({ host: '127.0.0.1', port, path }, { method, headers });
  return { status, headers: replyHeaders, text: body };
}

type Handler = (req: IncomingMessage, res: ServerResponse) => unknown;

export interface RoutingSuite {
  /** This test's echo upstream (started before each test, closed after everything else). */
  readonly up: Upstream;
  /** A proxy middleware closed after the test. */
  mw(config: ProxyConfig): ProxyMiddleware;
  /** Serves `handler` on 127.0.0.1, closed after the test. */
  serve(handler: Handler): Promise<Listening>;
  /** Serves `handler` with `insecureHTTPParser: true` (a lenient front server), closed after the test. */
  serveLenient(handler: Handler): Promise<OnLoopback>;
  /** The request target the upstream received for its only request. */
  onlyUpstreamUrl(): string;
  /** The upstream saw no request and no connection. */
  expectUpstreamUntouched(): void;
}

/** Registers the suite's `beforeEach` / `afterEach`; call once at the top of the file. */
export function useRoutingSuite(): RoutingSuite {
  let up: Upstream | undefined;
  const closers: Array<() => Promise<void>> = [];
  beforeEach(async () => {
    up = await startUpstream();
  });
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((c) => c()));
    await up?.close();
  });
  const current = (): Upstream => {
    if (up === undefined) throw new Error('routing: no upstream outside a test');
    return up;
  };
  const track = <T extends { close(): Promise<void> }>(thing: T): T => {
    closers.push(() => thing.close());
    return thing;
  };
  return {
    get up() {
      return current();
    },
    mw: (config) => track(proxy(config)),
    serve: async (handler) => track(await listen(handler)),
    serveLenient: async (handler) => track(await serveOnLoopback(http.createServer({ insecureHTTPParser: true }, handler))),
    onlyUpstreamUrl() {
      expect(current().requests).toHaveLength(1);
      return current().requests[0]!.url;
    },
    expectUpstreamUntouched() {
      expect(current().requests).toHaveLength(0);
      expect(current().connections).toBe(0);
    },
  };
}
