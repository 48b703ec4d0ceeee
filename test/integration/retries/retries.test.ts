/**
 * Retries: which failures are retried (the default filter), on which target, with which body.
 * Streamed bodies are kept up to maxReplayBody so a retried POST arrives whole.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import type { ProxyError, ProxyMiddleware } from '../../../src/index.js';
import { closingUpstream, deadTargetUrl } from '../../helpers/dead-target.js';
import { useCleanup } from '../../helpers/lifecycle.js';
import { until } from '../../helpers/poll.js';
import { startUpstream, type Upstream, type UpstreamHandler } from '../../helpers/upstream.js';

const { defer, track, proxyFor: makeProxy } = useCleanup();

async function upstream(handler?: UpstreamHandler, name?: string): Promise<Upstream> {
  return track(handler === undefined ? await startUpstream({ name }) : await startUpstream(handler, { name }));
}

/** Answers with the sha256 of the body it read. */
const hashingHandler: UpstreamHandler = (req, res) => {
  const hash = createHash('sha256');
  let length = 0;
  req.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    length += chunk.length;
  });
  req.on('end', () => res.end(JSON.stringify({ sha: hash.digest('hex'), length })));
};

function sha(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

function appWith(mw: ProxyMiddleware): express.Express {
  const app = express();
  app.use(mw);
  return app;
}

describe('retries', () => {
  it('a POST whose connection was refused is resent whole to the next target (default filter)', async () => {
    const good = await upstream(hashingHandler);
    const mw = makeProxy({ targets: [await deadTargetUrl(), good.url], retries: 1 });
    const body = randomBytes(64 * 1024);
    const res = await request(appWith(mw)).post('/upload').type('application/octet-stream').send(body).expect(200);
    expect(JSON.parse(res.text)).toEqual({ sha: sha(body), length: body.length });
    expect(mw.stats().map((s) => s.requests)).toEqual([1, 1]);
  });

  it('a chunked POST streamed slowly by the client is replayed whole', async () => {
    const good = await upstream(hashingHandler);
    const mw = makeProxy({ targets: [await deadTargetUrl(), good.url], retries: 1 });
    const server = http.createServer(appWith(mw));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    defer(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as net.AddressInfo;
    const parts = [randomBytes(10_000), randomBytes(20_000), randomBytes(30_000)];
    const answer = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/slow', agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      // Send the parts across event-loop turns, so the retry starts while the body is still arriving.
      let i = 0;
      const sendNext = (): void => {
        const part = parts[i++];
        if (part === undefined) return void req.end();
        req.write(part, () => setImmediate(sendNext));
      };
      sendNext();
    });
    const all = Buffer.concat(parts);
    expect(JSON.parse(answer)).toEqual({ sha: sha(all), length: all.length });
  });

  it('a body larger than maxReplayBody is retried whole when no upstream read a byte of it (refused connection)', async () => {
    const good = await upstream(hashingHandler);
    const mw = makeProxy({ targets: [await deadTargetUrl(), good.url], retries: 1, maxReplayBody: 1024 });
    const body = randomBytes(64 * 1024);
    const res = await request(appWith(mw)).post('/big').type('application/octet-stream').send(body).expect(200);
    expect(JSON.parse(res.text)).toEqual({ sha: sha(body), length: body.length });
  });

  it('a body larger than maxReplayBody is never retried once an upstream read part of it, and no partial body is sent', async () => {
    // Reads the first chunk of the upload, then drops the connection.
    const reader = await upstream((req) => {
      req.once('data', () => req.socket.destroy());
    });
    const good = await upstream(hashingHandler);
    const mw = makeProxy({ targets: [reader.url, good.url], retries: 1, maxReplayBody: 1024, retryFilter: () => true });
    await request(appWith(mw)).post('/big').type('application/octet-stream').send(randomBytes(256 * 1024)).expect(502);
    expect(good.requests).toHaveLength(0);
  });

  it('a POST that failed after connecting is not retried by default, but a custom filter may', async () => {
    const closing = track(await closingUpstream());
    const good = await upstream(hashingHandler);
    const errors: ProxyError[] = [];
    const strict = makeProxy({
      targets: [closing.url, good.url],
      retries: 1,
      errorHandler: (err, _req, res) => {
        errors.push(err);
        res.statusCode = err.status;
        res.end();
      },
    });
    await request(appWith(strict)).post('/x').send('abc').expect(502);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.connected).toBe(true);
    expect(errors[0]?.attempts).toBe(1);
    expect(good.requests).toHaveLength(0);

    const lenient = makeProxy({ targets: [closing.url, good.url], retries: 1, retryFilter: () => true });
    const res = await request(appWith(lenient)).post('/x').type('text/plain').send('abc').expect(200);
    expect(JSON.parse(res.text).length).toBe(3);
  });

  it('a GET that failed after connecting is retried on the next target', async () => {
    const closing = track(await closingUpstream());
    const good = await upstream(undefined, 'good');
    const mw = makeProxy({ targets: [closing.url, good.url], retries: 1 });
    const res = await request(appWith(mw)).get('/x').expect(200);
    expect(res.body.name).toBe('good');
    expect(closing.received()).toBe(1);
  });

  it('each retry goes to a target not tried yet, and err.attempts counts them', async () => {
    const dead = [await deadTargetUrl(), await deadTargetUrl(), await deadTargetUrl()];
    const errors: ProxyError[] = [];
    const mw = makeProxy({
      targets: dead,
      retries: 2,
      errorHandler: (err, _req, res) => {
        errors.push(err);
        res.statusCode = err.status;
        res.end();
      },
    });
    await request(appWith(mw)).get('/x').expect(502);
    expect(mw.stats().map((s) => s.requests)).toEqual([1, 1, 1]);
    expect(errors[0]).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', attempts: 3, connected: false });
  });

  it('forwarded headers are computed once, not appended per attempt', async () => {
    const good = await upstream();
    const mw = makeProxy({ targets: [await deadTargetUrl(), await deadTargetUrl(), good.url], retries: 2 });
    const res = await request(appWith(mw)).get('/x').expect(200);
    expect(res.body.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('retryOn retries a listed status on another target; out of attempts, the last response is sent as it was', async () => {
    const busy = await upstream((_req, res) => {
      res.statusCode = 503;
      res.setHeader('x-from', 'busy');
      res.end('busy body');
    });
    const good = await upstream(undefined, 'good');
    const mw = makeProxy({ targets: [busy.url, good.url], retries: 1, retryOn: [503] });
    const ok = await request(appWith(mw)).get('/x').expect(200);
    expect(ok.body.name).toBe('good');

    const onlyBusy = makeProxy({ targets: busy.url, retries: 2, retryOn: [503] });
    const last = await request(appWith(onlyBusy)).get('/x').expect(503);
    expect(last.text).toBe('busy body');
    expect(last.headers['x-from']).toBe('busy');
    expect(onlyBusy.stats()[0]?.requests).toBe(3);
  });

  it('retryOn does not retry a POST', async () => {
    const busy = await upstream((_req, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    const good = await upstream();
    const mw = makeProxy({ targets: [busy.url, good.url], retries: 1, retryOn: [503] });
    await request(appWith(mw)).post('/x').send('a').expect(503);
    expect(good.requests).toHaveLength(0);
  });

  it('tryDuration keeps retrying every tryInterval until the upstream comes up', async () => {
    const url = await deadTargetUrl();
    const port = Number(new URL(url).port);
    const mw = makeProxy({ targets: url, tryDuration: 20_000, tryInterval: 50 });
    const pending = request(appWith(mw)).get('/late').then((r) => r);
    // Once the proxy has seen a failure, bring an upstream up on the same port.
    await until(() => (mw.stats()[0]?.failures ?? 0) >= 1, 'the first failure');
    const late = http.createServer((_req, res) => res.end('late but here'));
    await new Promise<void>((resolve) => late.listen(port, '127.0.0.1', resolve));
    defer(() => new Promise((resolve) => {
      late.closeAllConnections();
      late.close(resolve);
    }));
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.text).toBe('late but here');
    expect(mw.stats()[0]?.failures).toBeGreaterThanOrEqual(1);
  });

  it('without retries nothing is recorded and a failed POST is answered once', async () => {
    const good = await upstream(hashingHandler);
    const mw = makeProxy({ targets: [await deadTargetUrl(), good.url] });
    await request(appWith(mw)).post('/x').send('abc').expect(502);
    expect(good.requests).toHaveLength(0);
  });
});
