/**
 * WebSockets under a mount path with one line of wiring: `app.use('/chat', mw)` plus
 * `server.on('upgrade', mw.upgrade)` strips the mount path from upgrades as the framework
 * strips it from HTTP, and an upgrade outside the mount is left to the server's other
 * `upgrade` listeners. Real `ws` upstreams and clients; the front servers are created with the
 * app itself as request listener (`http.createServer(app)`, what `app.listen()` does).
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import connect from 'connect';
import express from 'express';
import express4 from 'express4';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { ProxyMiddleware } from '../../src/index.js';
import { generateCerts } from '../helpers/certs.js';
import { startDnsServer } from '../helpers/dns-server.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { rawRequest, serveOnLoopback } from '../helpers/listen.js';
import { startUpstream } from '../helpers/upstream.js';

const { defer, track, proxyFor } = useCleanup();

/** A WebSocket upstream that sends `{ name, url }` (the path it was asked for) on open; HTTP echoes via startUpstream. */
async function wsUpstream(name: string): Promise<string> {
  const up = track(await startUpstream({ name }));
  const wss = new WebSocketServer({ noServer: true });
  up.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    wss.handleUpgrade(req, socket, head, (ws) => ws.send(JSON.stringify({ name, url: req.url })));
  });
  defer(() => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
  });
  return up.url;
}

type Outcome = { kind: 'open'; name: string; url: string } | { kind: 'status'; status: number } | { kind: 'error'; message: string };

/** Opens a WebSocket and reports what happened: the upstream's first message, a non-101 status, or an error. */
function open(url: string, opts: WebSocket.ClientOptions = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, opts);
    defer(() => ws.terminate());
    ws.once('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString()) as { name: string; url: string };
      resolve({ kind: 'open', ...msg });
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve({ kind: 'status', status: res.statusCode ?? 0 });
      res.resume();
    });
    ws.once('error', (err) => resolve({ kind: 'error', message: err.message }));
  });
}

/** Serves `handler` the way `app.listen()` does (the app itself is the request listener). */
async function serve(handler: http.RequestListener, mw: ProxyMiddleware | ProxyMiddleware[]): Promise<{ ws: string; http: string; server: http.Server }> {
  const server = http.createServer(handler);
  for (const m of Array.isArray(mw) ? mw : [mw]) server.on('upgrade', m.upgrade);
  const front = track(await serveOnLoopback(server));
  return { ws: `ws://127.0.0.1:${front.port}`, http: front.url, server };
}

const frameworks = [
  ['Express 5', express],
  ['Express 4', express4 as unknown as typeof express],
] as const;

describe.each(frameworks)('%s', (_name, framework) => {
  it('app.use("/chat", mw): an upgrade to /chat/room?x=1 reaches the upstream as /room?x=1, as HTTP does', async () => {
    const mw = proxyFor({ targets: await wsUpstream('up'), ws: true });
    const app = framework();
    app.use('/chat', mw);
    const front = await serve(app, mw);
    expect(await open(`${front.ws}/chat/room?x=1`)).toEqual({ kind: 'open', name: 'up', url: '/room?x=1' });
    expect(await open(`${front.ws}/chat`)).toEqual({ kind: 'open', name: 'up', url: '/' });
    // `/chatroom` is not under `/chat` (Express's boundary rule); no other listener → 404.
    expect(await open(`${front.ws}/chatroom`)).toEqual({ kind: 'status', status: 404 });
    const res = await fetch(`${front.http}/chat/room?x=1`);
    expect(((await res.json()) as { url: string }).url).toBe('/room?x=1');
  });

  it('a nested Router and a :param mount strip what Express strips', async () => {
    const mw = proxyFor({ targets: await wsUpstream('up'), ws: true });
    const app = framework();
    const router = framework.Router();
    router.use('/t/:tenant/chat', mw);
    app.use('/v1', router);
    const front = await serve(app, mw);
    expect(await open(`${front.ws}/v1/t/acme/chat/room`)).toEqual({ kind: 'open', name: 'up', url: '/room' });
  });

  it('on a route (app.get("/r/:id", mw)) the full path goes upstream, as for HTTP', async () => {
    const mw = proxyFor({ targets: await wsUpstream('up'), ws: true });
    const app = framework();
    app.get('/r/:id', mw);
    const front = await serve(app, mw);
    expect(await open(`${front.ws}/r/42`)).toEqual({ kind: 'open', name: 'up', url: '/r/42' });
    // Not the route's path: outside the mount, and no other listener → 404.
    expect(await open(`${front.ws}/r/42/more`)).toEqual({ kind: 'status', status: 404 });
  });

  it('an upgrade outside the mount is left to another upgrade listener, not destroyed', async () => {
    const mw = proxyFor({ targets: await wsUpstream('proxied'), ws: true });
    const app = framework();
    app.use('/chat', mw);
    const front = await serve(app, mw);
    // The app's own WebSocket server on /local, attached after the proxy.
    const local = new WebSocketServer({ noServer: true });
    defer(() => local.close());
    front.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (req.url?.startsWith('/local') !== true) return;
      local.handleUpgrade(req, socket, head, (ws) => ws.send(JSON.stringify({ name: 'local', url: req.url })));
    });
    expect(await open(`${front.ws}/local/feed`)).toEqual({ kind: 'open', name: 'local', url: '/local/feed' });
    expect(await open(`${front.ws}/chat/x`)).toEqual({ kind: 'open', name: 'proxied', url: '/x' });
  });
});

describe('several proxies on one server', () => {
  it('each takes its own mount; an upgrade no proxy takes gets a single 404', async () => {
    const a = proxyFor({ targets: await wsUpstream('a'), ws: true });
    const b = proxyFor({ targets: await wsUpstream('b'), ws: true });
    const app = express();
    app.use('/a', a);
    app.use('/b', b);
    const front = await serve(app, [a, b]);
    expect(await open(`${front.ws}/a/x`)).toEqual({ kind: 'open', name: 'a', url: '/x' });
    expect(await open(`${front.ws}/b/y`)).toEqual({ kind: 'open', name: 'b', url: '/y' });
    const raw = await rawRequest(
      Number(new URL(front.http).port),
      'GET /c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    expect(raw.match(/^HTTP\/1\.1 /gm)).toHaveLength(1);
    expect(raw).toMatch(/^HTTP\/1\.1 404 /);
  });
});

describe('other hosts', () => {
  it('Connect: connect().use("/chat", mw) strips /chat', async () => {
    const mw = proxyFor({ targets: await wsUpstream('up'), ws: true });
    const app = connect();
    app.use('/chat', mw as unknown as connect.NextHandleFunction);
    const front = await serve(app, mw);
    expect(await open(`${front.ws}/chat/room`)).toEqual({ kind: 'open', name: 'up', url: '/room' });
    expect(await open(`${front.ws}/elsewhere`)).toEqual({ kind: 'status', status: 404 });
  });

  it('bare node:http ((req, res) => mw(req, res)): the full path, and every upgrade is taken', async () => {
    const mw = proxyFor({ targets: await wsUpstream('up'), ws: true });
    const front = await serve((req, res) => mw(req, res), mw);
    expect(await open(`${front.ws}/anything/here`)).toEqual({ kind: 'open', name: 'up', url: '/anything/here' });
  });

  it('an HTTPS front end finds the mount too', async () => {
    const certs = await generateCerts();
    defer(() => certs.cleanup());
    const mw = proxyFor({ targets: await wsUpstream('up'), ws: true });
    const app = express();
    app.use('/chat', mw);
    const server = https.createServer({ key: certs.server.key, cert: certs.server.cert }, app);
    server.on('upgrade', mw.upgrade);
    const front = track(await serveOnLoopback(server));
    const outcome = await open(`wss://127.0.0.1:${front.port}/chat/room`, { ca: certs.ca });
    expect(outcome).toEqual({ kind: 'open', name: 'up', url: '/room' });
  });

  it('a listener of your own that strips the mount and calls mw.upgrade (the earlier recipe) still works', async () => {
    const mw = proxyFor({ targets: await wsUpstream('up'), ws: true });
    const app = express();
    app.use('/api', mw);
    const server = http.createServer(app);
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      req.url = (req.url ?? '/').slice('/api'.length) || '/';
      mw.upgrade(req, socket, head);
    });
    const front = track(await serveOnLoopback(server));
    expect(await open(`ws://127.0.0.1:${front.port}/api/room`)).toEqual({ kind: 'open', name: 'up', url: '/room' });
  });

  it('with DNS discovery (the middleware waits for the first lookup) the mount is found too', async () => {
    const upUrl = new URL(await wsUpstream('discovered'));
    const dns = await startDnsServer({ 'chat.test': { A: ['127.0.0.1'] } });
    defer(() => dns.close());
    const mw = proxyFor({ discover: { dns: 'chat.test', type: 'A', port: Number(upUrl.port), servers: [dns.address] }, ws: true });
    const app = express();
    app.use('/chat', mw);
    const front = await serve(app, mw);
    expect(await open(`${front.ws}/chat/room`)).toEqual({ kind: 'open', name: 'discovered', url: '/room' });
    expect(await open(`${front.ws}/elsewhere`)).toEqual({ kind: 'status', status: 404 });
  });

  it('ws: false answers 501 under the mount and leaves other paths to other listeners', async () => {
    const mw = proxyFor({ targets: await wsUpstream('up') });
    const app = express();
    app.use('/chat', mw);
    const front = await serve(app, mw);
    expect(await open(`${front.ws}/chat/room`)).toEqual({ kind: 'status', status: 501 });
    expect(await open(`${front.ws}/other`)).toEqual({ kind: 'status', status: 404 });
  });
});
