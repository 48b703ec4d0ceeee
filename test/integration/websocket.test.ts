/**
 * WebSocket proxying (`ws: true`, `mw.upgrade`): real `ws` upstreams and clients through an
 * Express app's http.Server. Tests that end a tunnel or refuse an upgrade also check that no
 * socket was left open on either server.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import express from 'express';
import { Agent as UndiciAgent } from 'undici';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer, type RawData } from 'ws';
import { proxy, type ProxyConfig, type ProxyMiddleware } from '../../src/index.js';
import { generateCerts } from '../helpers/certs.js';
import { deadTargetUrl } from '../helpers/dead-target.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { listen, rawRequest, serveOnLoopback, type Listening } from '../helpers/listen.js';
import { until } from '../helpers/poll.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// ---------------------------------------------------------------------------------------------
// Upstream: an echo WebSocket server on a real http.Server

/** What the upstream answers to the text message `whoami`. */
interface WhoAmI {
  name: string;
  url: string;
  headers: IncomingHttpHeaders;
  protocol: string;
}

interface WsUpstream {
  readonly name: string;
  readonly url: string;
  readonly up: Upstream;
  /** Handshake requests received (before accepting or refusing them). */
  readonly handshakes: IncomingMessage[];
  /** Server-side sockets of accepted connections, in order. */
  readonly sockets: WebSocket[];
  /** Completes a handshake that `refuse` held back. */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): Promise<void>;
}

interface WsUpstreamOptions {
  name?: string;
  /** Return true to take over the handshake (answer it by hand, hold it, or `accept` it later). */
  refuse?: (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;
  /** Negotiate permessage-deflate when the client offers it. @default false */
  perMessageDeflate?: boolean;
}

async function startWsUpstream(opts: WsUpstreamOptions = {}): Promise<WsUpstream> {
  const name = opts.name ?? 'ws-upstream';
  const up = await startUpstream({ name });
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: opts.perMessageDeflate ?? false,
    // Prefer v2 when offered, so negotiation through the proxy is visible.
    handleProtocols: (protocols) => (protocols.has('v2') ? 'v2' : (protocols.values().next().value ?? false)),
  });
  const handshakes: IncomingMessage[] = [];
  const sockets: WebSocket[] = [];
  up.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    handshakes.push(req);
    socket.on('error', () => {});
    if (opts.refuse?.(req, socket, head) === true) return;
    accept(req, socket, head);
  });
  function accept(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  }
  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    sockets.push(ws);
    ws.on('error', () => {});
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary && data.toString() === 'whoami') {
        const who: WhoAmI = { name, url: req.url ?? '', headers: req.headers, protocol: ws.protocol };
        ws.send(JSON.stringify(who));
      } else {
        ws.send(data, { binary: isBinary });
      }
    });
  });
  return {
    name,
    url: up.url,
    up,
    handshakes,
    sockets,
    accept,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await up.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Proxy side and client helpers

const { defer, track, proxyFor } = useCleanup();

async function wsUpstream(opts?: WsUpstreamOptions): Promise<WsUpstream> {
  return track(await startWsUpstream(opts));
}

function makeProxy(config: ProxyConfig): ProxyMiddleware {
  return proxyFor({ ws: true, ...config });
}

/** An Express app on a real server, with `mw` at the root for HTTP and upgrades. */
async function serveAtRoot(mw: ProxyMiddleware): Promise<Listening> {
  const app = express();
  app.use(mw);
  const server = track(await listen(app));
  server.server.on('upgrade', mw.upgrade);
  return server;
}

/**
 * The wiring docs/websockets.md shows for a proxy mounted at a prefix: Express strips the mount
 * path for HTTP; upgrades do not pass through Express, so the same prefix is stripped here.
 */
function mountUpgrade(prefix: string, mw: ProxyMiddleware) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = req.url ?? '/';
    const rest = url.slice(prefix.length);
    if (url.startsWith(prefix) && (rest === '' || rest.startsWith('/') || rest.startsWith('?'))) {
      req.url = rest.startsWith('/') ? rest : `/${rest}`;
      mw.upgrade(req, socket, head);
    } else {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    }
  };
}

type Opened =
  | { kind: 'open'; ws: WebSocket; res: IncomingMessage }
  | { kind: 'response'; status: number; headers: IncomingHttpHeaders; body: string }
  | { kind: 'error'; error: Error };

/** Opens a client; resolves once it is open, was answered with a non-101 response, or failed. */
function connect(url: string, protocols?: string[], options: WebSocket.ClientOptions = {}): Promise<Opened> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols, options);
    defer(() => ws.terminate());
    let res101: IncomingMessage | undefined;
    ws.on('upgrade', (res) => {
      res101 = res;
    });
    ws.once('open', () => resolve({ kind: 'open', ws, res: res101 as IncomingMessage }));
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ kind: 'response', status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() });
        ws.terminate();
      });
    });
    ws.on('error', (error) => resolve({ kind: 'error', error }));
  });
}

async function open(url: string, protocols?: string[], options?: WebSocket.ClientOptions): Promise<{ ws: WebSocket; res: IncomingMessage }> {
  const r = await connect(url, protocols, options);
  if (r.kind !== 'open') throw new Error(`expected the WebSocket to open, got ${JSON.stringify(r)}`);
  return r;
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) => {
    ws.once('message', (data: RawData, isBinary: boolean) => resolve({ data: toBuffer(data), isBinary }));
  });
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

async function whoami(ws: WebSocket): Promise<WhoAmI> {
  const reply = nextMessage(ws);
  ws.send('whoami');
  return JSON.parse((await reply).data.toString()) as WhoAmI;
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve({ code: -1, reason: 'already closed' });
  return once(ws, 'close').then(([code, reason]) => ({ code: code as number, reason: String(reason) }));
}

/** No socket left open on either server. */
async function expectNoOpenSockets(servers: Array<{ openSockets(): number }>): Promise<void> {
  await until(() => servers.every((s) => s.openSockets() === 0), 'every connection to close', 10_000);
  for (const s of servers) expect(s.openSockets()).toBe(0);
}

function wsUrl(server: Listening, path: string): string {
  return `ws://127.0.0.1:${server.port}${path}`;
}

const HANDSHAKE = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

// ---------------------------------------------------------------------------------------------

describe.each(['http', 'ws'])('echo through an Express app (%s:// target)', (scheme) => {
  it('relays text and binary messages both ways and counts the tunnel in stats()', async () => {
    const upstream = await wsUpstream();
    const mw = makeProxy({ targets: upstream.url.replace('http:', `${scheme}:`) });
    const server = await serveAtRoot(mw);

    const { ws } = await open(wsUrl(server, '/chat?room=1'));
    const text = nextMessage(ws);
    ws.send('hello');
    expect((await text).data.toString()).toBe('hello');
    const bin = nextMessage(ws);
    ws.send(Buffer.from([0, 1, 2, 255]));
    const got = await bin;
    expect(got.isBinary).toBe(true);
    expect([...got.data]).toEqual([0, 1, 2, 255]);
    expect((await whoami(ws)).url).toBe('/chat?room=1');

    const [open1] = mw.stats();
    expect(open1).toMatchObject({ active: 1, requests: 1, failures: 0, statuses: { 101: 1 } });

    ws.close(1000, 'done');
    expect((await closed(ws)).code).toBe(1000);
    await expectNoOpenSockets([server, upstream.up]);
    expect(mw.stats()[0]).toMatchObject({ active: 0, requests: 1, statuses: { 101: 1 } });
  });

  it('HTTP requests keep working on the same middleware', async () => {
    const upstream = await wsUpstream();
    const mw = makeProxy({ targets: upstream.url.replace('http:', `${scheme}:`) });
    const server = await serveAtRoot(mw);
    const res = await request(server.url).get('/plain?x=1');
    expect(res.status).toBe(200);
    expect(res.body.url).toBe('/plain?x=1');
  });
});

describe('paths', () => {
  it('mounted at /api: Express strips the prefix for HTTP, the documented upgrade wiring strips it for upgrades', async () => {
    const upstream = await wsUpstream();
    const mw = makeProxy({ targets: upstream.url });
    const app = express();
    app.use('/api', mw);
    const server = track(await listen(app));
    server.server.on('upgrade', mountUpgrade('/api', mw));

    const http = await request(server.url).get('/api/users?x=1');
    expect(http.body.url).toBe('/users?x=1');
    const { ws } = await open(wsUrl(server, '/api/chat?x=1'));
    expect((await whoami(ws)).url).toBe('/chat?x=1');

    // Outside the prefix the wiring answers 404 itself; the upstream sees nothing.
    const outside = await connect(wsUrl(server, '/apix/chat'));
    expect(outside).toMatchObject({ kind: 'response', status: 404 });
    expect(upstream.handshakes).toHaveLength(1);
    ws.close();
    await closed(ws);
    await expectNoOpenSockets([server, upstream.up]);
  });

  it('mw.upgrade wired directly sees the full request path (no mount path is stripped for upgrades)', async () => {
    const upstream = await wsUpstream();
    const mw = makeProxy({ targets: upstream.url });
    const app = express();
    app.use('/api', mw);
    const server = track(await listen(app));
    server.server.on('upgrade', mw.upgrade);
    const { ws } = await open(wsUrl(server, '/api/chat'));
    expect((await whoami(ws)).url).toBe('/api/chat');
  });

  it('applies the target prefix, rewrite rules and the to template', async () => {
    const upstream = await wsUpstream();
    const withPrefix = await serveAtRoot(makeProxy({ targets: `${upstream.url}/base/` }));
    const a = await open(wsUrl(withPrefix, '/chat'));
    expect((await whoami(a.ws)).url).toBe('/base/chat');

    const rewritten = await serveAtRoot(makeProxy({ targets: upstream.url, rewrite: { '/old/*': '/new/$1' } }));
    const b = await open(wsUrl(rewritten, '/old/room/7?x=1'));
    expect((await whoami(b.ws)).url).toBe('/new/room/7?x=1');

    const templated = await serveAtRoot(makeProxy({ targets: upstream.url, to: '/v2{path}{query}' }));
    const c = await open(wsUrl(templated, '/feed?since=3'));
    expect((await whoami(c.ws)).url).toBe('/v2/feed?since=3');
  });

  it.each([
    ['encoded dot segments climbing out', '/a/%2e%2e/%2e%2e/etc/passwd'],
    ['a literal ..', '/../secret'],
    ['a backslash hiding ..', '/a/..\\..\\secret'],
    ['absolute form', 'http://evil.example/chat'],
  ])('answers 400 for %s and contacts no upstream', async (_name, path) => {
    const upstream = await wsUpstream();
    const server = await serveAtRoot(makeProxy({ targets: upstream.url }));
    const reply = await rawRequest(server.port, `GET ${path} HTTP/1.1\r\nHost: x\r\n${HANDSHAKE}\r\n`);
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(reply).toMatch(/\r\nConnection: close\r\n/i);
    expect(upstream.handshakes).toHaveLength(0);
    await expectNoOpenSockets([server, upstream.up]);
  });

  it('a skip or except match answers 404 (there is no next for an upgrade)', async () => {
    const upstream = await wsUpstream();
    const server = await serveAtRoot(
      makeProxy({ targets: upstream.url, except: ['/static'], skip: (req) => req.headers['x-skip'] === '1' }),
    );
    expect(await connect(wsUrl(server, '/static/live'))).toMatchObject({ kind: 'response', status: 404, body: 'Not Found' });
    expect(await connect(wsUrl(server, '/chat'), undefined, { headers: { 'x-skip': '1' } })).toMatchObject({
      kind: 'response',
      status: 404,
    });
    expect(upstream.handshakes).toHaveLength(0);
    const { ws } = await open(wsUrl(server, '/statics'));
    expect((await whoami(ws)).url).toBe('/statics');
  });
});

describe('balancing', () => {
  it('round robin spreads upgrades across two upstreams', async () => {
    const u0 = await wsUpstream({ name: 'u0' });
    const u1 = await wsUpstream({ name: 'u1' });
    const mw = makeProxy({ targets: [u0.url, u1.url] });
    const server = await serveAtRoot(mw);
    const names: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { ws } = await open(wsUrl(server, '/chat'));
      names.push((await whoami(ws)).name);
    }
    expect(names).toEqual(['u0', 'u1', 'u0', 'u1']);
    expect(mw.stats().map((s) => [s.active, s.statuses[101]])).toEqual([[2, 2], [2, 2]]);
  });

  it('sticky cookies: the 101 carries Set-Cookie and the cookie brings the client back to its target', async () => {
    const u0 = await wsUpstream({ name: 'u0' });
    const u1 = await wsUpstream({ name: 'u1' });
    const server = await serveAtRoot(makeProxy({ targets: [u0.url, u1.url], balancer: { cookie: 'sid' } }));
    const first = await open(wsUrl(server, '/chat'));
    const setCookie = first.res.headers['set-cookie'];
    expect(setCookie).toHaveLength(1);
    const cookie = String(setCookie?.[0]).split(';')[0] as string;
    expect(cookie).toMatch(/^sid=/);
    const home = (await whoami(first.ws)).name;
    for (let i = 0; i < 3; i++) {
      const again = await open(wsUrl(server, '/chat'), undefined, { headers: { Cookie: cookie } });
      expect(again.res.headers['set-cookie']).toBeUndefined();
      expect((await whoami(again.ws)).name).toBe(home);
    }
  });

  it('a dead target is retried on the next one when retries allow', async () => {
    const live = await wsUpstream({ name: 'live' });
    const dead = await deadTargetUrl();
    const mw = makeProxy({ targets: [dead, live.url], retries: 1 });
    const server = await serveAtRoot(mw);
    const { ws } = await open(wsUrl(server, '/chat'));
    expect((await whoami(ws)).name).toBe('live');
    const [deadStats, liveStats] = mw.stats();
    expect(deadStats).toMatchObject({ requests: 1, failures: 1, active: 0 });
    expect(liveStats).toMatchObject({ requests: 1, active: 1, statuses: { 101: 1 } });
  });

  it('maxConns counts open tunnels: a full target is not chosen', async () => {
    const u0 = await wsUpstream({ name: 'u0' });
    const server = await serveAtRoot(makeProxy({ targets: u0.url, maxConns: 1 }));
    const first = await open(wsUrl(server, '/a'));
    expect(await connect(wsUrl(server, '/b'))).toMatchObject({ kind: 'response', status: 503 });
    first.ws.close();
    await closed(first.ws);
    await until(() => u0.up.openSockets() === 0, 'the first tunnel to close', 10_000);
    const again = await open(wsUrl(server, '/c'));
    expect((await whoami(again.ws)).url).toBe('/c');
  });
});

describe('headers', () => {
  it('negotiates subprotocols end to end', async () => {
    const upstream = await wsUpstream();
    const server = await serveAtRoot(makeProxy({ targets: upstream.url }));
    const { ws } = await open(wsUrl(server, '/chat'), ['v1', 'v2']);
    expect(ws.protocol).toBe('v2');
    const who = await whoami(ws);
    expect(who.protocol).toBe('v2');
    expect(who.headers['sec-websocket-protocol']).toBe('v1,v2');
  });

  it('sends forwarded headers and header rules on the upstream handshake, and responseHeaders on the 101', async () => {
    const upstream = await wsUpstream();
    const server = await serveAtRoot(
      makeProxy({
        targets: upstream.url,
        headers: { 'X-Api-Key': 'k1', 'X-Client': 'ip={addr}', Cookie: null, 'X-Upper': (req) => String(req.headers['x-lower']).toUpperCase() },
        responseHeaders: { 'X-Proxy': 'switchyard' },
      }),
    );
    const { ws, res } = await open(wsUrl(server, '/chat'), undefined, {
      headers: { 'X-Forwarded-For': '6.6.6.6', Cookie: 'session=1', 'X-Lower': 'abc', 'Keep-Alive': 'timeout=5' },
    });
    expect(res.headers['x-proxy']).toBe('switchyard');
    const h = (await whoami(ws)).headers;
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe(`127.0.0.1:${server.port}`);
    expect(h['x-api-key']).toBe('k1');
    expect(h['x-client']).toBe('ip=127.0.0.1');
    expect(h['x-upper']).toBe('ABC');
    expect(h.cookie).toBeUndefined();
    expect(h['keep-alive']).toBeUndefined();
    expect(h.host).toBe(`127.0.0.1:${upstream.up.port}`);
    expect(h.connection?.toLowerCase()).toBe('upgrade');
    expect(h.upgrade).toBe('websocket');
    expect(h['sec-websocket-key']).toEqual(expect.any(String));
  });

  it('passes extension negotiation (permessage-deflate) through', async () => {
    const upstream = await wsUpstream({ perMessageDeflate: true });
    const server = await serveAtRoot(makeProxy({ targets: upstream.url }));
    const { ws } = await open(wsUrl(server, '/chat'), undefined, { perMessageDeflate: true });
    expect(ws.extensions).toContain('permessage-deflate');
    const text = 'compress me '.repeat(1000);
    const reply = nextMessage(ws);
    ws.send(text);
    expect((await reply).data.toString()).toBe(text);
  });

  it('preserveHost keeps the client Host on the handshake', async () => {
    const upstream = await wsUpstream();
    const server = await serveAtRoot(makeProxy({ targets: upstream.url, preserveHost: true }));
    const { ws } = await open(wsUrl(server, '/chat'), undefined, { headers: { Host: 'app.example' } });
    expect((await whoami(ws)).headers.host).toBe('app.example');
  });
});

describe('errors', () => {
  it('relays a refused upgrade: the client gets the upstream status, headers (Alt-Svc removed) and body, then the connection closes', async () => {
    const upstream = await wsUpstream({
      refuse: (_req, socket) => {
        const body = 'no entry for you';
        socket.end(
          `HTTP/1.1 403 Forbidden\r\nX-Reason: token\r\nAlt-Svc: h3=":8443"\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
        );
        return true;
      },
    });
    const mw = makeProxy({ targets: upstream.url });
    const server = await serveAtRoot(mw);
    const r = await connect(wsUrl(server, '/chat'));
    expect(r).toMatchObject({ kind: 'response', status: 403, body: 'no entry for you' });
    expect(r.kind === 'response' && r.headers['x-reason']).toBe('token');

    const raw = await rawRequest(server.port, `GET /chat HTTP/1.1\r\nHost: x\r\n${HANDSHAKE}\r\n`);
    expect(raw).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(raw).toMatch(/\r\nX-Reason: token\r\n/);
    expect(raw).toMatch(/\r\nConnection: close\r\n/i);
    expect(raw).not.toMatch(/\r\nUpgrade:/i);
    // Alt-Svc removed from refused WebSocket answers too (issue 12).
    expect(raw).not.toMatch(/\r\nAlt-Svc:/i);
    expect(raw.endsWith('no entry for you')).toBe(true);
    expect(mw.stats()[0]).toMatchObject({ active: 0, statuses: { 403: 2 } });
    await expectNoOpenSockets([server]);
  });

  it('relays a refusal without Content-Length (chunked) whole', async () => {
    const upstream = await startUpstream((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.write('not ');
      res.end('here');
    });
    track(upstream);
    const server = await serveAtRoot(makeProxy({ targets: upstream.url }));
    expect(await connect(wsUrl(server, '/nowhere'))).toMatchObject({ kind: 'response', status: 404, body: 'not here' });
  });

  it('a dead target gets 502 and the socket is closed', async () => {
    const mw = makeProxy({ targets: await deadTargetUrl() });
    const server = await serveAtRoot(mw);
    expect(await connect(wsUrl(server, '/chat'))).toMatchObject({ kind: 'response', status: 502, body: 'Bad Gateway' });
    const raw = await rawRequest(server.port, `GET /chat HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n${HANDSHAKE}\r\n`);
    expect(raw).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
    expect(raw).toContain('{"error":{"status":502,"code":"UPSTREAM_UNAVAILABLE","message":"Bad Gateway"}}');
    expect(mw.stats()[0]).toMatchObject({ requests: 2, failures: 2, active: 0, statuses: { 502: 2 } });
    await expectNoOpenSockets([server]);
  });

  it('an upstream that never answers the handshake gets 504 after timeout', async () => {
    // Never answers; closes its side once the proxy gives up (reading is how it sees the FIN).
    const upstream = await wsUpstream({
      refuse: (_req, socket) => {
        socket.on('end', () => socket.end());
        socket.resume();
        return true;
      },
    });
    const server = await serveAtRoot(makeProxy({ targets: upstream.url, timeout: 300 }));
    expect(await connect(wsUrl(server, '/chat'))).toMatchObject({ kind: 'response', status: 504, body: 'Gateway Timeout' });
    await expectNoOpenSockets([server, upstream.up]);
  });

  it('answers 400 to a non-WebSocket upgrade (h2c) without contacting the upstream', async () => {
    const upstream = await wsUpstream();
    const server = await serveAtRoot(makeProxy({ targets: upstream.url }));
    const reply = await rawRequest(
      server.port,
      'GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n',
    );
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(upstream.handshakes).toHaveLength(0);
    expect(upstream.up.connections).toBe(0);
  });

  it('a throwing skip function gets 500 and the host keeps running', async () => {
    const upstream = await wsUpstream();
    const server = await serveAtRoot(
      makeProxy({
        targets: upstream.url,
        skip: () => {
          throw new Error('boom');
        },
      }),
    );
    expect(await connect(wsUrl(server, '/chat'))).toMatchObject({ kind: 'response', status: 500 });
    expect(upstream.handshakes).toHaveLength(0);
  });

  it('async skip on an upgrade: false tunnels, true answers 404, a rejection 500 as a throw does (issue 12)', async () => {
    const upstream = await wsUpstream();
    const server = await serveAtRoot(
      makeProxy({
        targets: upstream.url,
        skip: async (req) => {
          if (req.headers['x-skip'] === 'reject') throw new Error('async boom');
          return req.headers['x-skip'] === '1';
        },
      }),
    );
    expect(await connect(wsUrl(server, '/chat'), undefined, { headers: { 'x-skip': '1' } })).toMatchObject({
      kind: 'response',
      status: 404,
    });
    expect(await connect(wsUrl(server, '/chat'), undefined, { headers: { 'x-skip': 'reject' } })).toMatchObject({
      kind: 'response',
      status: 500,
    });
    expect(upstream.handshakes).toHaveLength(0);
    const { ws } = await open(wsUrl(server, '/chat'));
    expect((await whoami(ws)).url).toBe('/chat');
  });

  it('a throwing balancer.next gets 500', async () => {
    const upstream = await wsUpstream();
    const server = await serveAtRoot(
      makeProxy({
        balancer: {
          targets: [],
          add: () => {
            throw new Error('not used');
          },
          remove: () => false,
          next: () => {
            throw new Error('balancer broke');
          },
        },
      }),
    );
    expect(await connect(wsUrl(server, '/chat'))).toMatchObject({ kind: 'response', status: 500 });
    expect(upstream.handshakes).toHaveLength(0);
    await expectNoOpenSockets([server]);
  });

  it('ws: false answers 501 and closes; ws must be a boolean', async () => {
    const upstream = await wsUpstream();
    const server = await serveAtRoot(makeProxy({ targets: upstream.url, ws: false }));
    expect(await connect(wsUrl(server, '/chat'))).toMatchObject({ kind: 'response', status: 501 });
    expect(upstream.handshakes).toHaveLength(0);
    expect(() => proxy({ targets: upstream.url, ws: 'yes' as unknown as boolean })).toThrow(/^switchyard: ws must be true or false/);
  });

  it('after close() an upgrade gets 503', async () => {
    const upstream = await wsUpstream();
    const mw = makeProxy({ targets: upstream.url });
    const server = await serveAtRoot(mw);
    await mw.close();
    expect(await connect(wsUrl(server, '/chat'))).toMatchObject({ kind: 'response', status: 503 });
    expect(upstream.handshakes).toHaveLength(0);
  });
});

describe('tunnel lifetime', () => {
  it('relays large binary messages both ways intact', async () => {
    const upstream = await wsUpstream();
    const server = await serveAtRoot(makeProxy({ targets: upstream.url }));
    const { ws } = await open(wsUrl(server, '/bulk'));
    const serverSide = upstream.sockets[0] as WebSocket;
    const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

    // Client → upstream → (echo) → client, 3 messages of 4 MiB in a row.
    const sent = [randomBytes(4 << 20), randomBytes(4 << 20), randomBytes(4 << 20)];
    const received: Buffer[] = [];
    const allBack = new Promise<void>((resolve) => {
      ws.on('message', (data: RawData) => {
        received.push(toBuffer(data));
        if (received.length === sent.length) resolve();
      });
    });
    for (const b of sent) ws.send(b);
    await allBack;
    expect(received.map(sha)).toEqual(sent.map(sha));
    ws.removeAllListeners('message');

    // Upstream-initiated: 8 MiB pushed to the client unprompted.
    const big = randomBytes(8 << 20);
    const pushed = nextMessage(ws);
    serverSide.send(big);
    const got = await pushed;
    expect(got.isBinary).toBe(true);
    expect(sha(got.data)).toBe(sha(big));
  });

  it('bytes sent in the same packet as either handshake are relayed in order', async () => {
    const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
    // The upstream writes its 101 and a first frame ("hello") in one write.
    const upstream = await wsUpstream({
      refuse: (req, socket, head) => {
        const accept = createHash('sha1').update(`${String(req.headers['sec-websocket-key'])}${GUID}`).digest('base64');
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n` +
            '\x81\x05hello',
          'latin1',
        );
        // Whatever the client sent with its handshake (a masked "hi") is echoed back unmasked.
        const received = [head];
        socket.on('data', (chunk: Buffer) => received.push(chunk));
        const check = (): void => {
          const all = Buffer.concat(received);
          if (all.length < 8) return;
          const mask = all.subarray(2, 6);
          const payload = Buffer.from(all.subarray(6, 8).map((b, i) => b ^ (mask[i % 4] as number)));
          socket.end(Buffer.concat([Buffer.from([0x81, payload.length]), payload]));
        };
        check();
        socket.on('data', check);
        return true;
      },
    });
    const server = await serveAtRoot(makeProxy({ targets: upstream.url }));
    const masked = Buffer.from([0x81, 0x82, 1, 2, 3, 4, 'h'.charCodeAt(0) ^ 1, 'i'.charCodeAt(0) ^ 2]);
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const socket = net.connect(server.port, '127.0.0.1', () => {
        socket.write(Buffer.concat([Buffer.from(`GET /raw HTTP/1.1\r\nHost: x\r\n${HANDSHAKE}\r\n`, 'latin1'), masked]));
      });
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('end', () => {
        socket.end();
        resolve(Buffer.concat(chunks));
      });
      socket.on('error', reject);
    });
    const text = reply.toString('latin1');
    expect(text).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(text.endsWith('\r\n\r\n\x81\x05hello\x81\x02hi')).toBe(true);
    await expectNoOpenSockets([server, upstream.up]);
  });

  it('close() during a pending handshake answers the client and opens no tunnel (pooled agent)', async () => {
    let held!: () => void;
    const reached = new Promise<void>((resolve) => {
      held = resolve;
    });
    const upstream = await wsUpstream({
      refuse: (_req, socket) => {
        socket.on('end', () => socket.end());
        socket.resume();
        held();
        return true;
      },
    });
    const mw = makeProxy({ targets: upstream.url });
    const server = await serveAtRoot(mw);
    const answer = connect(wsUrl(server, '/chat'));
    await reached;
    await mw.close();
    expect(await answer).toMatchObject({ kind: 'response', status: 502 });
    await expectNoOpenSockets([server, upstream.up]);
    expect(mw.stats()[0]?.active).toBe(0);
  });

  it('close() during a pending handshake answers 503 when the upstream still switches (own dispatcher)', async () => {
    let completeHandshake!: () => void;
    const reached = new Promise<void>((resolve) => {
      completeHandshake = resolve;
    });
    let pending: [IncomingMessage, Duplex, Buffer] | undefined;
    const upstream = await wsUpstream({
      refuse: (req, socket, head) => {
        pending = [req, socket, head];
        completeHandshake();
        return true;
      },
    });
    // A user's dispatcher survives close(), so the handshake really completes after it.
    const dispatcher = new UndiciAgent();
    defer(() => dispatcher.close());
    const mw = makeProxy({ targets: upstream.url, dispatcher });
    const server = await serveAtRoot(mw);
    const answer = connect(wsUrl(server, '/chat'));
    await reached;
    await mw.close();
    upstream.accept(...(pending as [IncomingMessage, Duplex, Buffer]));
    expect(await answer).toMatchObject({ kind: 'response', status: 503 });
    await expectNoOpenSockets([server, upstream.up]);
    expect(mw.stats()[0]).toMatchObject({ active: 0, statuses: { 503: 1 } });
  });

  it('the upstream closing reaches the client with its code and reason', async () => {
    const upstream = await wsUpstream();
    const mw = makeProxy({ targets: upstream.url });
    const server = await serveAtRoot(mw);
    const { ws } = await open(wsUrl(server, '/chat'));
    await whoami(ws);
    (upstream.sockets[0] as WebSocket).close(4001, 'bye from upstream');
    expect(await closed(ws)).toEqual({ code: 4001, reason: 'bye from upstream' });
    await expectNoOpenSockets([server, upstream.up]);
    expect(mw.stats()[0]?.active).toBe(0);
  });

  it('the client closing reaches the upstream with its code and reason', async () => {
    const upstream = await wsUpstream();
    const mw = makeProxy({ targets: upstream.url });
    const server = await serveAtRoot(mw);
    const { ws } = await open(wsUrl(server, '/chat'));
    await whoami(ws);
    const serverSide = upstream.sockets[0] as WebSocket;
    const upstreamClosed = closed(serverSide);
    ws.close(4002, 'bye from client');
    expect(await upstreamClosed).toEqual({ code: 4002, reason: 'bye from client' });
    await expectNoOpenSockets([server, upstream.up]);
    expect(mw.stats()[0]?.active).toBe(0);
  });

  it('a client that vanishes (reset) takes the upstream connection with it', async () => {
    const upstream = await wsUpstream();
    const mw = makeProxy({ targets: upstream.url });
    const server = await serveAtRoot(mw);
    const { ws } = await open(wsUrl(server, '/chat'));
    await whoami(ws);
    const upstreamClosed = closed(upstream.sockets[0] as WebSocket);
    ws.terminate();
    expect((await upstreamClosed).code).toBe(1006);
    await expectNoOpenSockets([server, upstream.up]);
    expect(mw.stats()[0]?.active).toBe(0);
  });

  it('mw.close() ends every open tunnel: both sides see close and no socket is left', async () => {
    const u0 = await wsUpstream({ name: 'u0' });
    const u1 = await wsUpstream({ name: 'u1' });
    const mw = makeProxy({ targets: [u0.url, u1.url] });
    const server = await serveAtRoot(mw);
    const clients = [await open(wsUrl(server, '/a')), await open(wsUrl(server, '/b')), await open(wsUrl(server, '/c'))];
    for (const c of clients) await whoami(c.ws);
    const upstreamSides = [...u0.sockets, ...u1.sockets];
    expect(upstreamSides).toHaveLength(3);
    const allClosed = Promise.all([...clients.map((c) => closed(c.ws)), ...upstreamSides.map(closed)]);
    await mw.close();
    const codes = await allClosed;
    expect(codes.map((c) => c.code)).toEqual([1006, 1006, 1006, 1006, 1006, 1006]);
    await expectNoOpenSockets([server, u0.up, u1.up]);
    expect(mw.stats().map((s) => s.active)).toEqual([0, 0]);
  });
});

describe('TLS upstream', () => {
  it('proxies to a wss:// target (self-signed, tls.verify: false)', async () => {
    const certs = await generateCerts();
    defer(() => certs.cleanup());
    const tlsServer = https.createServer({ cert: certs.selfSigned.cert, key: certs.selfSigned.key });
    const { port } = track(await serveOnLoopback(tlsServer));
    const wss = new WebSocketServer({ server: tlsServer });
    defer(() => {
      for (const c of wss.clients) c.terminate();
      wss.close();
    });
    wss.on('connection', (ws, req) => {
      ws.on('message', (data) => ws.send(`tls:${req.url}:${toBuffer(data).toString()}`));
    });

    const server = await serveAtRoot(makeProxy({ targets: `wss://127.0.0.1:${port}`, tls: { verify: false } }));
    const { ws } = await open(wsUrl(server, '/secure'));
    const reply = nextMessage(ws);
    ws.send('ping');
    expect((await reply).data.toString()).toBe('tls:/secure:ping');

    const strict = await serveAtRoot(makeProxy({ targets: `wss://127.0.0.1:${port}` }));
    expect(await connect(wsUrl(strict, '/secure'))).toMatchObject({ kind: 'response', status: 502 });
  });
});
