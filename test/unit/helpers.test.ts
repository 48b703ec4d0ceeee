import http from 'node:http';
import net from 'node:net';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { sendText } from '../helpers/client.js';
import { deadTargetUrl } from '../helpers/dead-target.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { listen, rawRequest, type Listening } from '../helpers/listen.js';
import { NEXT_CALLED_BODY, mount, mountModes, type Middleware } from '../helpers/mount-matrix.js';
import { startUpstream, startUpstreams, type EchoResponse } from '../helpers/upstream.js';

const { track } = useCleanup({ parallel: true });

/** A minimal client: status, headers and body of one request (a fresh connection each time). */
function send(
  url: string,
  init: { method?: string; body?: string; headers?: http.OutgoingHttpHeaders; agent?: http.Agent | false } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return sendText(url, init);
}

describe('startUpstream', () => {
  it('echoes and records method, url, headers, raw headers, body and port', async () => {
    const up = track(await startUpstream({ name: 'alpha' }));
    const res = await send(`${up.url}/p?q=1`, { method: 'POST', body: 'hello', headers: { 'X-Mixed-Case': 'v' } });
    expect(res.status).toBe(200);
    const echo = JSON.parse(res.body) as EchoResponse;
    expect(echo).toMatchObject({ name: 'alpha', method: 'POST', url: '/p?q=1', bodyLength: 5 });
    expect(echo.headers['x-mixed-case']).toBe('v');

    expect(up.requests).toHaveLength(1);
    const [r] = up.requests;
    expect(r!.method).toBe('POST');
    expect(r!.url).toBe('/p?q=1');
    expect(r!.body.toString()).toBe('hello');
    expect(r!.complete).toBe(true);
    expect(r!.rawHeaders).toContain('X-Mixed-Case');
    expect(typeof r!.remotePort).toBe('number');
    expect(up.connections).toBe(1);
  });

  it('records the body even when a custom handler never reads it', async () => {
    const up = await startUpstream((_req, res) => {
      res.end('ignored your body');
    });
    track(up);
    await send(up.url, { method: 'PUT', body: 'x'.repeat(10_000) });
    expect(up.requests[0]!.body.length).toBe(10_000);
    expect(up.name).toBe('upstream');
  });

  it('counts connections, reports open sockets and closes them', async () => {
    const up = track(await startUpstream());
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    await send(up.url, { agent });
    await send(up.url, { agent });
    expect(up.connections).toBe(1); // reused
    expect(up.openSockets()).toBe(1);
    expect(up.requests[0]!.remotePort).toBe(up.requests[1]!.remotePort);
    await up.close(); // must not wait for the idle keep-alive socket
    expect(up.openSockets()).toBe(0);
    await up.close(); // idempotent
    agent.destroy();
  });

  it('answers 500 when an async handler rejects', async () => {
    const up = await startUpstream(async () => {
      throw new Error('boom');
    });
    track(up);
    expect((await send(up.url)).status).toBe(500);
  });

  it('startUpstreams names them u0, u1, …', async () => {
    const ups = await startUpstreams(3);
    for (const up of ups) track(up);
    expect(ups.map((u) => u.name)).toEqual(['u0', 'u1', 'u2']);
    expect(new Set(ups.map((u) => u.port)).size).toBe(3);
    const echo = JSON.parse((await send(ups[2]!.url)).body) as EchoResponse;
    expect(echo.name).toBe('u2');

    const custom = await startUpstreams(2, (name) => (_req, res) => {
      res.end(`custom ${name}`);
    });
    for (const up of custom) track(up);
    expect((await send(custom[1]!.url)).body).toBe('custom u1');
  });
});

describe('deadTargetUrl', () => {
  it('is a 127.0.0.1 URL that refuses connections', async () => {
    const url = await deadTargetUrl();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await expect(send(url)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe('listen and rawRequest', () => {
  it('returns the raw response bytes until the server closes', async () => {
    const server: Listening = await listen((req, res) => {
      res.setHeader('X-Case', 'Kept');
      res.end(`you asked for ${req.url}`);
    });
    track(server);
    const reply = await rawRequest(server.port, 'GET /raw?x=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(reply).toContain('\r\nX-Case: Kept\r\n');
    expect(reply.endsWith('\r\n\r\nyou asked for /raw?x=1')).toBe(true);
  });

  it('returns what arrived before the idle timeout on a kept-alive connection', async () => {
    const server = track(await listen((_req, res) => res.end('ok')));
    const reply = await rawRequest(server.port, 'GET / HTTP/1.1\r\nHost: t\r\n\r\n', { timeoutMs: 200 });
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok$/);
  });

  it("returns the server's own answer to a malformed request", async () => {
    const server = track(await listen((_req, res) => res.end('unreachable')));
    const reply = await rawRequest(server.port, 'NOT HTTP AT ALL\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('close() destroys open client sockets', async () => {
    const server = await listen((_req, res) => res.end('ok'));
    const socket = net.connect(server.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(server.openSockets()).toBe(1);
    const closed = new Promise((resolve) => socket.once('close', resolve));
    await server.close();
    await closed;
    expect(server.openSockets()).toBe(0);
  });
});

describe.each(mountModes)('mount(%s)', (mode) => {
  const echoUrl: Middleware = (req, res) => {
    res.end(req.url);
  };

  it('delivers the request with the expected path', async () => {
    const m = mount(mode, echoUrl);
    const server = track(await listen(m.handler));
    const clientPath = m.clientPath('/users?x=1');
    const res = await send(server.url + clientPath);
    expect(res.status).toBe(200);
    expect(res.body).toBe(m.expectedUpstreamPath(clientPath));
    expect(res.body).toBe(m.seesFullPath ? clientPath : '/users?x=1');
  });

  it('runs `before` middleware first (e.g. a body parser)', async () => {
    const m = mount(mode, (req, res) => res.end(JSON.stringify((req as unknown as { body: unknown }).body)), {
      before: [express.json() as Middleware],
    });
    const server = track(await listen(m.handler));
    const res = await send(server.url + m.clientPath('/users'), {
      method: 'POST',
      body: '{"a":1}',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.body).toBe('{"a":1}');
  });
});

/** Only the framework modes have a `next`; `bare-http` answers by itself (tested in mounting.test.ts). */
const modesWithNext = mountModes.filter((mode) => mode !== 'bare-http');

describe.each(modesWithNext)('mount(%s) with next', (mode) => {
  it('shows next() as 404 next-called and next(err) as 500 next-error', async () => {
    const m = mount(mode, (req, _res, next) => {
      if (req.url?.includes('fail')) next?.(new Error('boom'));
      else next?.();
    });
    const server = track(await listen(m.handler));
    const skipped = await send(server.url + m.clientPath('/skip'));
    expect(skipped).toMatchObject({ status: 404, body: NEXT_CALLED_BODY });
    const failed = await send(server.url + m.clientPath('/fail'));
    expect(failed).toMatchObject({ status: 500, body: 'next-error: boom' });
  });
});

describe('mount expectedUpstreamPath', () => {
  it('maps the bare prefix to / like Express does', async () => {
    const m = mount('express-use', (req, res) => res.end(req.url));
    const server = track(await listen(m.handler));
    for (const clientPath of ['/api', '/api?x=1']) {
      const res = await send(server.url + clientPath);
      expect(res.body).toBe(m.expectedUpstreamPath(clientPath));
    }
    expect(m.expectedUpstreamPath('/api?x=1')).toBe('/?x=1');
  });
});
