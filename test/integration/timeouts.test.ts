/**
 * The transport's clocks, against real upstreams: `timeout` runs from the moment the whole
 * request was sent, `idleTimeout` while either body is flowing, `connectTimeout` until a
 * connection exists.
 */
import http, { type IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { ProxyConfig, ProxyError } from '../../src/index.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { listen } from '../helpers/listen.js';
import { until } from '../helpers/poll.js';
import { closed, deferred } from '../helpers/streams.js';
import { startUpstream, type UpstreamHandler } from '../helpers/upstream.js';

const { track, proxyFor } = useCleanup();

async function setup(handler: UpstreamHandler, config: Partial<ProxyConfig>) {
  const up = track(await startUpstream(handler));
  const errors: ProxyError[] = [];
  const mw = proxyFor({
    targets: up.url,
    ...config,
    errorHandler: (err, _req, res) => {
      errors.push(err);
      res.statusCode = err.status;
      res.end(err.code);
    },
  });
  const front = track(await listen((req, res) => mw(req, res)));
  return { up, mw, front, errors };
}

/** POSTs `chunks` pieces of `size` bytes, one every `everyMs`; resolves with the answer. */
function slowUpload(url: string, chunks: number, size: number, everyMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/upload`, { method: 'POST', agent: false, headers: { 'content-length': chunks * size } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    let sent = 0;
    const tick = setInterval(() => {
      req.write(Buffer.alloc(size, 0x61 + (sent % 26)));
      sent += 1;
      if (sent === chunks) {
        clearInterval(tick);
        req.end();
      }
    }, everyMs);
  });
}

describe('timeout and idleTimeout on real uploads and downloads', () => {
  it('an upload flowing longer than `timeout` arrives whole and is answered 200', async () => {
    const s = await setup(
      (req, res) => {
        let n = 0;
        req.on('data', (c: Buffer) => (n += c.length));
        req.on('end', () => res.end(`got ${n}`));
      },
      { timeout: 300, idleTimeout: 5_000 },
    );
    const reply = await slowUpload(s.front.url, 12, 1024, 100);
    expect(reply).toEqual({ status: 200, body: 'got 12288' });
    expect(s.up.requests[0]?.complete).toBe(true);
    expect(s.errors).toEqual([]);
  });

  it('the upstream not answering within `timeout` after the body was sent: 504 UPSTREAM_TIMEOUT', async () => {
    const s = await setup(() => {}, { timeout: 200 });
    const reply = await slowUpload(s.front.url, 2, 100, 20);
    expect(reply.status).toBe(504);
    expect(s.errors[0]).toMatchObject({ code: 'UPSTREAM_TIMEOUT', connected: true });
    await until(() => s.up.openSockets() === 0, 'the upstream socket to close');
  });

  it('an upstream that sends headers and part of the body, then stalls: the client connection is destroyed and everything freed', async () => {
    const upstreamReq = deferred<IncomingMessage>();
    const s = await setup(
      (req, res) => {
        res.writeHead(200, { 'content-length': '100' });
        res.write('only part');
        upstreamReq.resolve(req);
      },
      { idleTimeout: 300 },
    );
    const outcome = await new Promise<{ status: number; bytes: number; complete: boolean }>((resolve) => {
      http.get(`${s.front.url}/stall`, { agent: false }, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('error', () => {});
        res.on('close', () => resolve({ status: res.statusCode ?? 0, bytes, complete: res.complete }));
      });
    });
    // Headers had been sent: the only honest signal is a broken connection, never a short 200.
    expect(outcome).toEqual({ status: 200, bytes: 9, complete: false });
    await closed((await upstreamReq.promise).socket);
    await until(() => s.mw.stats()[0]?.active === 0, 'the active slot to be freed');
    expect(s.mw.stats()[0]).toMatchObject({ active: 0, failures: 1 });
    expect(s.up.openSockets()).toBe(0);
  });

  it('a slow client reading a large answer is not the upstream stalling', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 0x62);
    const s = await setup((_req, res) => void res.end(big), { idleTimeout: 200 });
    const got = await new Promise<number>((resolve, reject) => {
      http.get(`${s.front.url}/big`, { agent: false }, (res) => {
        let bytes = 0;
        res.pause();
        // Hold the client for longer than idleTimeout before reading anything.
        setTimeout(() => {
          res.on('data', (c: Buffer) => (bytes += c.length));
          res.on('end', () => resolve(bytes));
          res.resume();
        }, 600);
      }).on('error', reject);
    });
    expect(got).toBe(big.length);
    expect(s.mw.stats()[0]).toMatchObject({ failures: 0, statuses: { 200: 1 } });
  });

  it('an upstream that stops reading the request body: 504 UPSTREAM_TIMEOUT after idleTimeout, the client not blamed', async () => {
    // Never reads: once the socket buffers are full the upload cannot move.
    const s = await setup(() => {}, { idleTimeout: 300, timeout: 60_000 });
    const total = 64 * 1024 * 1024;
    const reply = await new Promise<number>((resolve) => {
      const req = http.request(`${s.front.url}/upload`, { method: 'POST', agent: false, headers: { 'content-length': total } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => resolve(-1));
      const chunk = Buffer.alloc(64 * 1024, 0x63);
      let sent = 0;
      const pump = (): void => {
        while (sent < total) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    expect(reply).toBe(504);
    expect(s.errors[0]).toMatchObject({ code: 'UPSTREAM_TIMEOUT', connected: true });
  });
});
