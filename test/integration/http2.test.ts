/**
 * HTTP/2 upstreams (`http2: true`) through the whole middleware, against `node:http2` secure
 * servers on 127.0.0.1 that refuse HTTP/1.1 (`allowHTTP1: false`), so an answer at all means
 * the proxy spoke HTTP/2; each server also reports `req.httpVersion`. Covers bodies streaming
 * both ways (each side waits for the other's first bytes before sending the rest, so a proxy
 * that buffered would hang), hop-by-hop and pseudo-headers in both directions, retries, active
 * health checks over HTTP/2, stats, WebSocket upgrades beside HTTP/2, and what happens with an
 * HTTP/1.1-only upstream and with cleartext `h2c`.
 */
import { createHash } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import http2, { type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import express from 'express';
import { Agent, H2CClient } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxy, type ProxyConfig, type ProxyError, type ProxyMiddleware } from '../../src/index.js';
import { generateCerts, type TestCerts } from '../helpers/certs.js';
import { readReply, sendText } from '../helpers/client.js';
import { deadTargetUrl } from '../helpers/dead-target.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { listen, serveOnLoopback, type Listening } from '../helpers/listen.js';
import { until } from '../helpers/poll.js';
import { deferred, generated, MiB, patternChunk } from '../helpers/streams.js';
import { answerWebSockets, webSocketRoundTrip } from '../helpers/websocket.js';

const { track, defer } = useCleanup();

let certs: TestCerts;
beforeAll(async () => {
  certs = await generateCerts();
});
afterAll(async () => {
  await certs.cleanup();
});

type H2Handler = (req: Http2ServerRequest, res: Http2ServerResponse) => void;

interface H2Upstream {
  readonly url: string;
  readonly port: number;
  /** Every request's HTTP version, path and raw header list, in arrival order. */
  readonly seen: Array<{ httpVersion: string; url: string; rawHeaders: string[] }>;
}

/** An HTTP/2-only TLS upstream on 127.0.0.1 (`https://localhost:PORT`, trusted through `certs.ca`). */
async function h2Upstream(handler: H2Handler, opts: { allowHTTP1?: boolean } = {}): Promise<H2Upstream & { server: http2.Http2SecureServer }> {
  const seen: H2Upstream['seen'] = [];
  const server = http2.createSecureServer({ key: certs.server.key, cert: certs.server.cert, allowHTTP1: opts.allowHTTP1 ?? false }, (req, res) => {
    seen.push({ httpVersion: req.httpVersion, url: req.url, rawHeaders: req.rawHeaders });
    handler(req, res);
  });
  const { port } = track(await serveOnLoopback(server));
  return { url: `https://localhost:${port}`, port, seen, server };
}

/** Answers `{ httpVersion, name }` as JSON after reading the request body. */
function named(name: string): H2Handler {
  return (req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ httpVersion: req.httpVersion, name })));
  };
}

interface Served {
  mw: ProxyMiddleware;
  front: Listening;
  errors: ProxyError[];
}

async function serve(config: ProxyConfig): Promise<Served> {
  const errors: ProxyError[] = [];
  const mw = track(
    proxy({
      http2: true,
      tls: { ca: certs.ca },
      errorHandler: (err, _req, res) => {
        errors.push(err);
        res.statusCode = err.status;
        res.end(err.code);
      },
      ...config,
    }),
  );
  const front = track(await listen(express().use('/api', mw)));
  return { mw, front, errors };
}

function sha256(): { update(chunk: Buffer): void; digest(): string } {
  const hash = createHash('sha256');
  return { update: (c) => hash.update(c), digest: () => hash.digest('hex') };
}

describe('bodies stream both ways over HTTP/2', () => {
  it('a large streamed POST: the upstream gets the first bytes before the client sends the rest, and the whole body', async () => {
    const total = 8 * MiB;
    let received = 0;
    const upHash = sha256();
    const up = await h2Upstream((req, res) => {
      req.on('data', (c: Buffer) => {
        received += c.length;
        upHash.update(c);
      });
      req.on('end', () => res.end(JSON.stringify({ httpVersion: req.httpVersion, received, sha: upHash.digest() })));
    });
    const { front, mw } = await serve({ targets: up.url });

    const sent = sha256();
    const req = http.request(`${front.url}/api/upload`, { method: 'POST', agent: false, headers: { 'transfer-encoding': 'chunked' } });
    const reply = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.on('response', (res: IncomingMessage) => readReply(res).then((r) => resolve({ status: r.status, body: r.body.toString() }), reject));
      req.on('error', reject);
    });
    const first = patternChunk(total);
    sent.update(first);
    req.write(first);
    // Streaming, not buffering: the upstream sees bytes while the client still holds the rest.
    await until(() => received > 0, 'the first bytes upstream');
    generated(total - first.length, (c) => sent.update(c)).pipe(req);

    const { status, body } = await reply;
    expect(status).toBe(200);
    expect(JSON.parse(body)).toEqual({ httpVersion: '2.0', received: total, sha: sent.digest() });
    expect(mw.stats()[0]).toMatchObject({ requests: 1, failures: 0, statuses: { 200: 1 } });
  });

  it('a large streamed response: the client gets the first bytes before the upstream sends the rest, and the whole body', async () => {
    const total = 8 * MiB;
    const clientGotBytes = deferred();
    const upHash = sha256();
    let upSent = '';
    const up = await h2Upstream((req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-http-version': req.httpVersion });
      const first = patternChunk(total);
      upHash.update(first);
      res.write(first);
      void clientGotBytes.promise.then(() => {
        const rest = generated(total - first.length, (c) => upHash.update(c));
        rest.on('end', () => (upSent = upHash.digest()));
        rest.pipe(res);
      });
    });
    const { front } = await serve({ targets: up.url });

    const res = await new Promise<IncomingMessage>((resolve, reject) => http.get(`${front.url}/api/download`, { agent: false }, resolve).on('error', reject));
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-http-version']).toBe('2.0');
    const got = sha256();
    let bytes = 0;
    await new Promise<void>((resolve, reject) => {
      res.on('data', (c: Buffer) => {
        if (bytes === 0) clientGotBytes.resolve();
        bytes += c.length;
        got.update(c);
      });
      res.on('end', resolve);
      res.on('error', reject);
    });
    expect(bytes).toBe(total);
    expect(got.digest()).toBe(upSent);
  });
});

describe('connections', () => {
  /** Holds requests until `n` are in flight at once, then answers them all. */
  function holdUntil(n: number): { handler: (req: { url?: string }, res: { end(body: string): void }) => void; maxActive: () => number } {
    let active = 0;
    let maxActive = 0;
    const held: Array<() => void> = [];
    return {
      handler(req, res) {
        active++;
        maxActive = Math.max(maxActive, active);
        held.push(() => {
          active--;
          res.end('ok');
        });
        if (held.length === n || req.url === '/first') for (const release of held.splice(0)) release();
      },
      maxActive: () => maxActive,
    };
  }

  it('concurrent requests share one HTTP/2 connection (multiplexed, not one connection per request)', async () => {
    const hold = holdUntil(10);
    const up = await h2Upstream(hold.handler);
    let sessions = 0;
    up.server.on('session', () => sessions++);
    const { front } = await serve({ targets: up.url });
    expect((await sendText(`${front.url}/api/first`)).status).toBe(200);
    const replies = await Promise.all(Array.from({ length: 10 }, () => sendText(`${front.url}/api/x`)));
    expect(replies.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(hold.maxActive()).toBe(10);
    expect(sessions).toBe(1);
  });

  it('an HTTP/1.1 upstream behind http2: true gets one request per connection at a time (no pipelining)', async () => {
    const hold = holdUntil(3);
    const server = https.createServer({ key: certs.server.key, cert: certs.server.cert }, hold.handler);
    const up = track(await serveOnLoopback(server));
    const { front } = await serve({ targets: `https://localhost:${up.port}` });
    expect((await sendText(`${front.url}/api/first`)).status).toBe(200);
    const replies = await Promise.all(Array.from({ length: 3 }, () => sendText(`${front.url}/api/x`)));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    // Pipelined requests would reach a Node server one at a time, on one connection.
    expect(hold.maxActive()).toBe(3);
    expect(up.connections()).toBe(3);
  });
});

describe('hop-by-hop and pseudo-headers over HTTP/2', () => {
  it('the upstream gets no connection-specific header and only the four request pseudo-headers, first; the client gets no pseudo-header', async () => {
    let rawHeaders: string[] = [];
    const up = await h2Upstream((req, res) => {
      rawHeaders = req.rawHeaders;
      req.resume();
      req.on('end', () => res.writeHead(200, { 'x-up': 'yes', 'content-type': 'text/plain' }).end(`read ${req.httpVersion}`));
    });
    const { front } = await serve({ targets: `${up.url}/base` });
    const reply = await sendText(`${front.url}/api/h?x=1`, {
      method: 'POST',
      headers: {
        Connection: 'keep-alive, X-Hop',
        'X-Hop': 'gone',
        'Keep-Alive': 'timeout=5',
        'Proxy-Connection': 'keep-alive',
        // Sent without an Upgrade, so Node hands it to the request handler like any header.
        'HTTP2-Settings': 'AAMAAABkAARAAAAAAAIAAAAA',
        TE: 'trailers',
        'X-Kept': 'kept',
      },
      // Written in parts: Transfer-Encoding: chunked from the client.
      body: ['part one, ', 'part two'],
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('read 2.0');

    const names = rawHeaders.filter((_, i) => i % 2 === 0);
    const pseudo = names.filter((n) => n.startsWith(':'));
    expect(pseudo.sort()).toEqual([':authority', ':method', ':path', ':scheme']);
    // Pseudo-headers precede every regular header (RFC 9113 §8.3), so none is "in the wrong place".
    expect(names.slice(0, 4).sort()).toEqual(pseudo);
    const value = (name: string): string | undefined => rawHeaders[rawHeaders.indexOf(name) + 1];
    expect([value(':method'), value(':path'), value(':scheme'), value(':authority')]).toEqual(['POST', '/base/h?x=1', 'https', `localhost:${up.port}`]);
    for (const gone of ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'x-hop', 'host']) {
      expect(names).not.toContain(gone);
    }
    expect(value('te')).toBe('trailers');
    expect(value('x-kept')).toBe('kept');

    const clientNames = reply.rawHeaders.filter((_, i) => i % 2 === 0);
    expect(clientNames.filter((n) => n.startsWith(':'))).toEqual([]);
    expect(reply.headers['x-up']).toBe('yes');
  });

  it('preserveHost: the client’s Host becomes :authority', async () => {
    let authority: string | undefined;
    const up = await h2Upstream((req, res) => {
      authority = req.authority;
      res.end();
    });
    const { front } = await serve({ targets: up.url, preserveHost: true });
    expect((await sendText(`${front.url}/api/x`, { headers: { host: 'shop.example' } })).status).toBe(200);
    expect(authority).toBe('shop.example');
  });
});

describe('retries, health checks and stats over HTTP/2', () => {
  it('a target that cannot be reached is retried on an HTTP/2 target', async () => {
    const live = await h2Upstream(named('live'));
    const dead = (await deadTargetUrl()).replace('http:', 'https:');
    const { front, mw } = await serve({ targets: [{ url: dead, name: 'dead' }, { url: live.url, name: 'live' }], balancer: 'first', retries: 1 });
    const reply = await sendText(`${front.url}/api/x`);
    expect(JSON.parse(reply.body)).toEqual({ httpVersion: '2.0', name: 'live' });
    expect(mw.stats()).toMatchObject([
      { name: 'dead', requests: 1, failures: 1 },
      { name: 'live', requests: 1, failures: 0, statuses: { 200: 1 } },
    ]);
  });

  it('an HTTP/2 target that resets the stream (a failure after connecting) falls back to another for a GET', async () => {
    const resetting = await h2Upstream((req) => req.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    const live = await h2Upstream(named('live'));
    const { front, mw } = await serve({
      targets: [{ url: resetting.url, name: 'resetting' }, { url: live.url, name: 'live' }],
      balancer: 'first',
      retries: 1,
      passive: { maxFails: 1, failTimeout: 60_000 },
    });
    const reply = await sendText(`${front.url}/api/x`);
    expect(JSON.parse(reply.body)).toEqual({ httpVersion: '2.0', name: 'live' });
    expect(resetting.seen).toHaveLength(1);
    expect(mw.stats()).toMatchObject([
      { name: 'resetting', requests: 1, failures: 1, healthy: false },
      { name: 'live', requests: 1, failures: 0, healthy: true },
    ]);
  });

  it('without retries, the reset stream is a 502 UPSTREAM_UNAVAILABLE with connected: true', async () => {
    const resetting = await h2Upstream((req) => req.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    const { front, errors } = await serve({ targets: resetting.url });
    expect((await sendText(`${front.url}/api/x`)).status).toBe(502);
    expect(errors[0]).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', connected: true });
  });

  it('active health checks speak HTTP/2 to an HTTP/2-only target: a passing check keeps it, a failing one takes it out', async () => {
    let health = 200;
    const up = await h2Upstream((req, res) => {
      if (req.url === '/health') res.writeHead(health).end('health');
      else named('up')(req, res);
    });
    const { mw } = await serve({ targets: up.url, healthCheck: { path: '/health', interval: 50 } });
    const checks = (): typeof up.seen => up.seen.filter((s) => s.url === '/health');
    await until(() => checks().length >= 2, 'two checks');
    expect(checks().every((s) => s.httpVersion === '2.0')).toBe(true);
    expect(mw.stats()[0]?.healthy).toBe(true);
    health = 500;
    await until(() => mw.stats()[0]?.healthy === false, 'the failing check');
    health = 200;
    await until(() => mw.stats()[0]?.healthy === true, 'the recovery');
  });

  it('a health check that outlasts its timeout fails, and close() ends it', async () => {
    const up = await h2Upstream(() => {
      // never answers
    });
    const mw = proxy({ targets: up.url, http2: true, tls: { ca: certs.ca }, healthCheck: { path: '/health', interval: 60_000, timeout: 100 } });
    defer(() => mw.close());
    await until(() => mw.stats()[0]?.healthy === false, 'the check to time out');
    await mw.close();
  });
});

describe('what an HTTP/2-enabled proxy does with other upstreams', () => {
  it('an HTTP/1.1-only https: upstream is spoken to in HTTP/1.1 (ALPN picks it)', async () => {
    const server = https.createServer({ key: certs.server.key, cert: certs.server.cert }, (req, res) => res.end(req.httpVersion));
    const { port } = track(await serveOnLoopback(server));
    const { front } = await serve({ targets: `https://localhost:${port}` });
    const reply = await sendText(`${front.url}/api/x`);
    expect(reply).toMatchObject({ status: 200, body: '1.1' });
  });

  it('h2c: an http: target is always spoken to in HTTP/1.1, so a cleartext HTTP/2-only server fails: 502', async () => {
    const server = http2.createServer((_req, res) => res.end('h2c'));
    const { port } = track(await serveOnLoopback(server));
    const { front, errors } = await serve({ targets: `http://127.0.0.1:${port}` });
    expect((await sendText(`${front.url}/api/x`)).status).toBe(502);
    expect(errors[0]).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
  });

  it('h2c: undici’s H2CClient as the dispatcher speaks prior-knowledge HTTP/2 to it (docs/http2.md)', async () => {
    let version = '';
    const server = http2.createServer((req, res) => {
      version = req.httpVersion;
      res.end('h2c');
    });
    const { port } = track(await serveOnLoopback(server));
    const dispatcher = new Agent({ factory: (origin, opts) => new H2CClient(origin, opts) });
    defer(() => dispatcher.close());
    const { front } = await serve({ targets: `http://127.0.0.1:${port}`, dispatcher, http2: false, tls: undefined });
    expect(await sendText(`${front.url}/api/x`)).toMatchObject({ status: 200, body: 'h2c' });
    expect(version).toBe('2.0');
  });

  it('ws: true beside http2: true: the WebSocket handshake goes over HTTP/1.1 to a server that also offers h2', async () => {
    const up = await h2Upstream((_req, res) => res.end('http'), { allowHTTP1: true });
    track(answerWebSockets(up.server, (req, text) => `${req.httpVersion} ${text}`));
    const mw = track(proxy({ targets: up.url, http2: true, tls: { ca: certs.ca }, ws: true }));
    const front = track(await listen(express().use(mw)));
    front.server.on('upgrade', mw.upgrade);
    expect(await webSocketRoundTrip(`${front.url.replace('http:', 'ws:')}/chat`, 'hi')).toBe('1.1 hi');
    // Plain requests to the same target still use HTTP/2.
    expect((await sendText(`${front.url}/x`)).body).toBe('http');
    expect(up.seen.at(-1)?.httpVersion).toBe('2.0');
  });
});
