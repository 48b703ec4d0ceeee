/**
 * Contract "Headers", byte-level cases: requests written over node:net (HTTP clients refuse or
 * rewrite some of them) and an upstream that answers with raw socket bytes, so what crosses
 * the proxy is checked exactly as it travels.
 */
import http from 'node:http';
import net, { type Socket } from 'node:net';
import express, { type ErrorRequestHandler } from 'express';
import { describe, expect, it } from 'vitest';
import type { ProxyConfig } from '../../src/index.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { listen, rawRequest, serveOnLoopback } from '../helpers/listen.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const { track, proxyFor } = useCleanup({ parallel: true });

/** The proxy mounted at `/api` in Express, with an error handler answering 500. Returns its port. */
async function serveProxy(config: ProxyConfig): Promise<number> {
  const mw = proxyFor(config);
  const app = express();
  app.disable('x-powered-by');
  app.use('/api', mw);
  app.use(((err: unknown, _req, res, _next) => {
    res.status(500).type('text/plain').send(String(err));
  }) as ErrorRequestHandler);
  const front = track(await listen(app));
  return front.port;
}

async function echoUpstream(): Promise<Upstream> {
  const up = track(await startUpstream());
  return up;
}

interface RawUpstream {
  readonly url: string;
  /** Everything received, one string (latin1) per connection. */
  readonly received: string[];
}

const headComplete = (data: string): boolean => data.includes('\r\n\r\n');

/**
 * An upstream over node:net that answers once per connection with `response` byte for byte,
 * as soon as `ready(bytes received so far)` holds (by default: the request head is complete),
 * and records every byte it receives.
 */
async function rawUpstream(response: string, ready: (data: string) => boolean = headComplete): Promise<RawUpstream> {
  const received: string[] = [];
  const server = net.createServer((socket: Socket) => {
    const index = received.push('') - 1;
    let answered = false;
    socket.on('data', (chunk: Buffer) => {
      received[index] += chunk.toString('latin1');
      if (!answered && ready(received[index]!)) {
        answered = true;
        socket.write(Buffer.from(response, 'latin1'));
      }
    });
    socket.on('error', () => {});
  });
  const { url } = track(await serveOnLoopback(server));
  return { url, received };
}

/** Splits a raw HTTP/1.1 message into its status/request line, header lines and body. */
function parse(message: string): { start: string; headers: Array<[string, string]>; body: string } {
  const end = message.indexOf('\r\n\r\n');
  expect(end).toBeGreaterThan(-1);
  const [start = '', ...lines] = message.slice(0, end).split('\r\n');
  const headers = lines.map((line): [string, string] => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
  return { start, headers, body: message.slice(end + 4) };
}

function values(headers: Array<[string, string]>, name: string): string[] {
  return headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
}

/**
 * Writes `text` over a new connection and resolves with the first complete response
 * (Content-Length or chunked framing), without waiting for the connection to close.
 */
function exchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const socket = net.connect({ port, host: '127.0.0.1' }, () => socket.write(Buffer.from(text, 'latin1')));
    const done = (): void => {
      socket.destroy();
      resolve(data);
    };
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1');
      const end = data.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = data.slice(0, end).toLowerCase();
      const body = data.slice(end + 4);
      const length = /\r\ncontent-length:\s*(\d+)/.exec(head);
      if (length !== null && body.length >= Number(length[1])) done();
      else if (/\r\ntransfer-encoding:\s*chunked/.test(head) && body.endsWith('0\r\n\r\n')) done();
    });
    socket.on('end', done);
    socket.on('error', (err) => (data === '' ? reject(err) : done()));
  });
}

describe('X-Forwarded-* cannot be stripped by the client', () => {
  it('a client Connection header listing X-Forwarded-* does not remove the proxy\'s own', async () => {
    const up = await echoUpstream();
    const port = await serveProxy({ targets: up.url });
    const reply = await exchange(
      port,
      'GET /api/xf HTTP/1.1\r\nHost: client.example\r\n' +
        'Connection: keep-alive, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host\r\n' +
        'X-Forwarded-For: 6.6.6.6\r\n\r\n',
    );
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(up.requests).toHaveLength(1);
    const h = up.requests[0]!.headers;
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe('client.example');
  });
});

describe('hop-by-hop request headers (raw bytes)', () => {
  it('never reach the upstream', async () => {
    const up = await echoUpstream();
    const port = await serveProxy({ targets: up.url });
    const reply = await exchange(
      port,
      'POST /api/hop HTTP/1.1\r\nHost: client.example\r\n' +
        'Connection: keep-alive, X-Secret\r\n' +
        'X-Secret: do-not-forward\r\n' +
        'Keep-Alive: timeout=5\r\n' +
        'Proxy-Connection: keep-alive\r\n' +
        'Proxy-Authorization: Basic cHJveHk6c2VjcmV0\r\n' +
        'TE: gzip\r\n' +
        'Trailer: X-Checksum\r\n' +
        'Upgrade: h2c\r\n' +
        'X-End-To-End: yes\r\n' +
        'Content-Length: 4\r\n\r\nbody',
    );
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(up.requests).toHaveLength(1);
    const rec = up.requests[0]!;
    const names = rec.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    for (const name of ['x-secret', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'upgrade']) {
      expect(names).not.toContain(name);
    }
    expect(String(rec.headers.connection ?? '')).not.toMatch(/x-secret/i);
    expect(rec.headers['x-end-to-end']).toBe('yes');
    expect(rec.body.toString()).toBe('body');
  });
});

describe('hop-by-hop response headers and header case (raw upstream bytes)', () => {
  it('strips hop-by-hop headers and keeps the upstream letter case on the client wire', async () => {
    const up = await rawUpstream(
      'HTTP/1.1 200 OK\r\n' +
        'Content-Length: 5\r\n' +
        'Connection: X-Internal\r\n' +
        'X-Internal: secret\r\n' +
        'Keep-Alive: timeout=99, max=7\r\n' +
        'Proxy-Authenticate: Basic realm="up"\r\n' +
        'Trailer: X-Checksum\r\n' +
        'Upgrade: h2c\r\n' +
        'X-MiXeD-CaSe: yes\r\n' +
        'set-cookie: a=1\r\n' +
        'Set-Cookie: b=2\r\n' +
        '\r\nhello',
    );
    const port = await serveProxy({ targets: up.url });
    const reply = await exchange(port, 'GET /api/r HTTP/1.1\r\nHost: client.example\r\n\r\n');
    const { start, headers, body } = parse(reply);
    expect(start).toMatch(/^HTTP\/1\.1 200 /);
    expect(body).toBe('hello');
    const names = headers.map(([n]) => n);
    for (const name of ['x-internal', 'proxy-authenticate', 'trailer', 'upgrade']) {
      expect(names.map((n) => n.toLowerCase())).not.toContain(name);
    }
    // The proxy's server may announce its own Keep-Alive and Connection; the upstream's must not appear.
    for (const v of values(headers, 'keep-alive')) expect(v).not.toMatch(/99|max=7/);
    for (const v of values(headers, 'connection')) expect(v).not.toMatch(/x-internal/i);
    expect(names).toContain('X-MiXeD-CaSe');
    expect(values(headers, 'x-mixed-case')).toEqual(['yes']);
    expect(values(headers, 'set-cookie')).toEqual(['a=1', 'b=2']);
    expect(up.received).toHaveLength(1);
  });

  it('drops a name listed in the upstream Connection header even when it comes before Connection', async () => {
    const up = await rawUpstream(
      'HTTP/1.1 200 OK\r\nX-Early: secret\r\nContent-Length: 2\r\nConnection: keep-alive, X-Early\r\nX-Late: ok\r\n\r\nok',
    );
    const port = await serveProxy({ targets: up.url });
    const { headers } = parse(await exchange(port, 'GET /api/r HTTP/1.1\r\nHost: client.example\r\n\r\n'));
    expect(values(headers, 'x-early')).toEqual([]);
    expect(values(headers, 'x-late')).toEqual(['ok']);
  });
});

describe('request framing', () => {
  it('never forwards both Content-Length and Transfer-Encoding', async () => {
    const up = await echoUpstream();
    const port = await serveProxy({ targets: up.url });
    const reply = await rawRequest(
      port,
      'POST /api/smuggle HTTP/1.1\r\nHost: client.example\r\n' +
        'Transfer-Encoding: chunked\r\nContent-Length: 4\r\nConnection: close\r\n\r\n' +
        '5\r\nhello\r\n0\r\n\r\n',
    );
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(reply)?.[1]);
    if (status === 400) {
      // Node's parser refused the ambiguous message itself: nothing was forwarded.
      expect(up.requests).toHaveLength(0);
      expect(up.connections).toBe(0);
      return;
    }
    expect(status).toBe(200);
    expect(up.requests).toHaveLength(1);
    const rec = up.requests[0]!;
    const framing = [rec.headers['content-length'], rec.headers['transfer-encoding']].filter((v) => v !== undefined);
    expect(framing).toHaveLength(1);
    expect(rec.complete).toBe(true);
    expect(rec.body.toString()).toBe('hello');
  });

  it('drops Content-Length when a lenient front server accepts both (insecureHTTPParser)', async () => {
    const up = await echoUpstream();
    const mw = proxyFor({ targets: up.url });
    const server = http.createServer({ insecureHTTPParser: true }, (req, res) => mw(req, res));
    const { port } = track(await serveOnLoopback(server));
    const reply = await exchange(
      port,
      'POST /smuggle HTTP/1.1\r\nHost: client.example\r\n' +
        'Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n' +
        '5\r\nhello\r\n0\r\n\r\n',
    );
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(up.requests).toHaveLength(1);
    const rec = up.requests[0]!;
    expect(rec.headers['content-length']).toBeUndefined();
    expect(rec.headers['transfer-encoding']).toBe('chunked');
    expect(rec.complete).toBe(true);
    expect(rec.body.toString()).toBe('hello');
  });

  it('sends a chunked DELETE body to the upstream chunked, bytes intact', async () => {
    // Answers only once the whole chunked body arrived, so the proxy's reply proves it did.
    const up = await rawUpstream('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', (data) => {
      const end = data.indexOf('\r\n\r\n');
      return end !== -1 && data.slice(end + 4).endsWith('0\r\n\r\n');
    });
    const port = await serveProxy({ targets: up.url });
    const reply = await exchange(
      port,
      'DELETE /api/items HTTP/1.1\r\nHost: client.example\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n',
    );
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(up.received).toHaveLength(1);
    const { start, headers, body } = parse(up.received[0]!);
    expect(start).toBe('DELETE /items HTTP/1.1');
    expect(values(headers, 'transfer-encoding')).toEqual(['chunked']);
    expect(values(headers, 'content-length')).toEqual([]);
    // Decode the chunks: the body is the client's, whatever the chunk boundaries.
    let rest = body;
    let decoded = '';
    for (;;) {
      const lineEnd = rest.indexOf('\r\n');
      const size = parseInt(rest.slice(0, lineEnd), 16);
      if (size === 0) break;
      decoded += rest.slice(lineEnd + 2, lineEnd + 2 + size);
      rest = rest.slice(lineEnd + 2 + size + 2);
    }
    expect(decoded).toBe('abcdef');
  });
});