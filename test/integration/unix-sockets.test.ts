/**
 * Unix-socket upstreams: `{ url, socketPath }` and `'unix:/path'` targets, through the whole
 * middleware. Every upstream listens only on a socket in a fresh temporary directory, so a
 * request that arrives at all arrived over the socket. Covers Host and prefix from `url`,
 * balancing, retries and passive health on a missing socket, active checks over the socket,
 * WebSocket upgrades, `stats()`, and the config errors.
 */
import https from 'node:https';
import express from 'express';
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { proxy, type ProxyConfig, type ProxyMiddleware } from '../../src/index.js';
import { generateCerts } from '../helpers/certs.js';
import { sendText } from '../helpers/client.js';
import { exactMessage, expectConfigError } from '../helpers/config-error.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { closeServer, listen, listenOnSocket, trackSockets, type Listening } from '../helpers/listen.js';
import { until } from '../helpers/poll.js';
import { socketDir, type SocketDir } from '../helpers/socket-dir.js';
import { startUpstream, type EchoResponse, type Upstream, type UpstreamHandler } from '../helpers/upstream.js';
import { answerWebSockets, webSocketRoundTrip } from '../helpers/websocket.js';

const { track, defer } = useCleanup();

async function dir(): Promise<SocketDir> {
  return track(await socketDir());
}

/** An echo upstream (or `handler`) listening on the socket `name` in `d`. */
async function onSocket(d: SocketDir, name: string, handler?: UpstreamHandler): Promise<Upstream> {
  const socketPath = d.path(name);
  return track(await (handler === undefined ? startUpstream({ name, socketPath }) : startUpstream(handler, { name, socketPath })));
}

interface Served {
  mw: ProxyMiddleware;
  front: Listening;
  get(path?: string): Promise<{ status: number; body: string }>;
}

async function serve(config: ProxyConfig): Promise<Served> {
  const mw = track(proxy(config));
  const front = track(await listen(express().use('/api', mw)));
  return { mw, front, get: (path = '/x') => sendText(`${front.url}/api${path}`) };
}

function echo(reply: { status: number; body: string }): EchoResponse {
  expect(reply.status).toBe(200);
  return JSON.parse(reply.body) as EchoResponse;
}

describe('Unix-socket targets', () => {
  it('{ url, socketPath }: connects to the socket; url gives the Host header and the path prefix', async () => {
    const d = await dir();
    const up = await onSocket(d, 'app');
    const { get, mw } = await serve({ targets: { url: 'http://app.internal/v1', socketPath: d.path('app') } });
    const seen = echo(await get('/users?x=1'));
    expect(seen).toMatchObject({ name: 'app', url: '/v1/users?x=1' });
    expect(seen.headers.host).toBe('app.internal');
    expect(up.requests).toHaveLength(1);
    // Named after the socket by default: readable in stats() and logs.
    expect(mw.stats()).toEqual([
      { name: d.path('app'), url: 'http://app.internal/v1', healthy: true, active: 0, requests: 1, failures: 0, statuses: { 200: 1 } },
    ]);
    expect(mw.balancer.targets[0]?.socketPath).toBe(d.path('app'));
  });

  it("'unix:/path' is short for { url: 'http://localhost', socketPath }", async () => {
    const d = await dir();
    await onSocket(d, 'app');
    const { get, mw } = await serve({ targets: `unix:${d.path('app')}` });
    const seen = echo(await get('/a/b'));
    expect(seen).toMatchObject({ url: '/a/b' });
    expect(seen.headers.host).toBe('localhost');
    expect(mw.stats()[0]).toMatchObject({ name: d.path('app'), url: 'http://localhost/' });
  });

  it('keeps connections alive over the socket', async () => {
    const d = await dir();
    const up = await onSocket(d, 'app');
    const { get } = await serve({ targets: `unix:${d.path('app')}` });
    for (let i = 0; i < 5; i++) echo(await get());
    expect(up.requests).toHaveLength(5);
    expect(up.connections).toBe(1);
  });

  it('balances between socket targets (same url, different sockets) and TCP targets alike', async () => {
    const d = await dir();
    await onSocket(d, 'a');
    await onSocket(d, 'b');
    const tcp = track(await startUpstream({ name: 'tcp' }));
    const { get, mw } = await serve({
      targets: [
        { url: 'http://app', socketPath: d.path('a') },
        { url: 'http://app', socketPath: d.path('b') },
        { url: tcp.url, name: 'tcp' },
      ],
    });
    const names: string[] = [];
    for (let i = 0; i < 6; i++) names.push(echo(await get()).name);
    expect(names).toEqual(['a', 'b', 'tcp', 'a', 'b', 'tcp']);
    expect(mw.stats().map((s) => [s.name, s.requests])).toEqual([[d.path('a'), 2], [d.path('b'), 2], ['tcp', 2]]);
  });

  it('a missing socket is UPSTREAM_UNAVAILABLE (nothing sent): retried on another target, and passive health marks it down', async () => {
    const d = await dir();
    await onSocket(d, 'live');
    const { get, mw } = await serve({
      targets: [`unix:${d.path('missing')}`, `unix:${d.path('live')}`],
      balancer: 'first',
      retries: 1,
      passive: { maxFails: 1, failTimeout: 60_000 },
    });
    expect(echo(await get()).name).toBe('live');
    expect(mw.stats()).toMatchObject([
      { name: d.path('missing'), healthy: false, requests: 1, failures: 1 },
      { name: d.path('live'), healthy: true, requests: 1, failures: 0 },
    ]);
    expect(echo(await get()).name).toBe('live');
    expect(mw.stats()[0]).toMatchObject({ requests: 1 });
  });

  it('without retries the error names the socket target', async () => {
    const d = await dir();
    const errors: unknown[] = [];
    const mw = track(proxy({ targets: `unix:${d.path('missing')}`, errorHandler: (err, _req, res) => { errors.push(err); res.statusCode = err.status; res.end(); } }));
    const front = track(await listen(express().use(mw)));
    expect((await sendText(`${front.url}/x`)).status).toBe(502);
    expect(errors[0]).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', connected: false, message: `no such socket: upstream ${d.path('missing')}` });
  });
});

describe('TLS over the socket', () => {
  it('an https: url speaks TLS over the socket and verifies the url’s host name', async () => {
    const certs = await generateCerts();
    defer(() => certs.cleanup());
    const d = await dir();
    const server = https.createServer({ key: certs.server.key, cert: certs.server.cert }, (req, res) => res.end(`tls ${req.headers.host}`));
    const { sockets } = trackSockets(server);
    await listenOnSocket(server, d.path('tls'));
    defer(() => closeServer(server, sockets));

    const good = await serve({ targets: { url: 'https://localhost', socketPath: d.path('tls') }, tls: { ca: certs.ca } });
    expect(await good.get()).toMatchObject({ status: 200, body: 'tls localhost' });
    // The certificate names localhost and 127.0.0.1 only.
    const wrong = await serve({ targets: { url: 'https://wrong.example', socketPath: d.path('tls') }, tls: { ca: certs.ca } });
    expect((await wrong.get()).status).toBe(502);
  });
});

describe('active health checks over the socket', () => {
  it('checks GET path through the socket with the target’s Host; a failing check takes the target out', async () => {
    const d = await dir();
    let health = 200;
    const handler: UpstreamHandler = (req, res) => {
      if (req.url === '/health') res.writeHead(health).end();
      else res.end(JSON.stringify({ name: 'checked' }));
    };
    const checked = await onSocket(d, 'checked', handler);
    await onSocket(d, 'other');
    const { get, mw } = await serve({
      targets: [{ url: 'http://checked.internal', socketPath: d.path('checked'), name: 'checked' }, { url: 'http://other', socketPath: d.path('other'), name: 'other' }],
      // `port` has no meaning for a socket: the check still goes over the socket.
      healthCheck: { path: '/health', interval: 50, port: 1 },
    });
    const checks = (): number => checked.requests.filter((r) => r.url === '/health').length;
    await until(() => checks() >= 2, 'checks over the socket');
    expect(checked.requests[0]?.headers.host).toBe('checked.internal');
    expect(mw.stats().map((s) => s.healthy)).toEqual([true, true]);

    health = 503;
    await until(() => mw.stats()[0]?.healthy === false, 'the failing target to be marked down');
    for (let i = 0; i < 3; i++) expect(echo(await get()).name).toBe('other');

    health = 200;
    await until(() => mw.stats()[0]?.healthy === true, 'the target to recover');
  });

  it('a missing socket fails its check', async () => {
    const d = await dir();
    const mw = track(proxy({ targets: `unix:${d.path('missing')}`, healthCheck: { path: '/health', interval: 50 } }));
    await until(() => mw.stats()[0]?.healthy === false, 'the check to fail');
  });

  it('close() leaves no connection open on the socket server', async () => {
    const d = await dir();
    const up = await onSocket(d, 'app');
    const mw = proxy({ targets: `unix:${d.path('app')}`, healthCheck: { path: '/health', interval: 50 } });
    defer(() => mw.close());
    await until(() => up.requests.length >= 2, 'two checks');
    await mw.close();
    await until(() => up.openSockets() === 0, 'the check connections to close');
  });
});

describe('WebSocket upgrades over the socket', () => {
  it('ws: true tunnels an upgrade to a socket target, with its Host and prefix', async () => {
    const d = await dir();
    const up = await onSocket(d, 'ws');
    track(answerWebSockets(up.server, (req, text) => `${req.headers.host} ${req.url} ${text}`));
    const mw = track(proxy({ targets: { url: 'ws://chat.internal/rooms', socketPath: d.path('ws') }, ws: true }));
    const front = track(await listen(express().use(mw)));
    front.server.on('upgrade', mw.upgrade);
    const answer = await webSocketRoundTrip(`${front.url.replace('http:', 'ws:')}/lobby?x=1`, 'hello');
    expect(answer).toBe('chat.internal /rooms/lobby?x=1 hello');
    expect(mw.stats()[0]).toMatchObject({ name: d.path('ws'), requests: 1, statuses: { 101: 1 } });
  });
});

describe('Unix-socket config errors', () => {
  it.each<[string, ProxyConfig, string]>([
    ['an empty socketPath', { targets: ['http://a', { url: 'http://b', socketPath: '' }] }, 'targets[1].socketPath must be a non-empty path'],
    ['a numeric socketPath', { targets: [{ url: 'http://b', socketPath: 1 as unknown as string }] }, 'targets[0].socketPath must be a non-empty path'],
    ['unix: with no path', { targets: ['unix:'] }, 'targets[0] must be a non-empty path'],
    ['the http://unix:/path form', { targets: ['http://unix:/run/app.sock:/v1'] }, 'targets[0] names a Unix socket in the http://unix:/path form'],
    ['with a dispatcher', { targets: ['http://a', 'unix:/run/app.sock'], dispatcher: new Agent() }, 'targets[1].socketPath cannot be used with the dispatcher option'],
  ])('%s', (_label, config, start) => {
    const err = expectConfigError(() => proxy(config), new RegExp(`^switchyard: ${exactMessage(start).source.slice(1, -1)}`));
    expect(err.option).toBe(start.split(' ')[0]);
  });
});
