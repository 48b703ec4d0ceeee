/**
 * Request bodies: a 1 GiB upload streams through with backpressure and bounded memory; a body
 * already consumed by an Express body parser is re-sent whole from `req.body` with a correct
 * Content-Length; a body a parser skipped streams through untouched; an upstream that answers
 * before reading the whole body (413) reaches the client and nothing hangs.
 */
import { createHash } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { gzipSync } from 'node:zlib';
import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { proxy, type ProxyMiddleware } from '../../src/index.js';
import { readReply, sendRequest, type Reply } from '../helpers/client.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { listen, serveOnLoopback } from '../helpers/listen.js';
import { mount, mountModes, type Middleware } from '../helpers/mount-matrix.js';
import { stalled } from '../helpers/poll.js';
import { generated, GiB, MiB, readPausingOnce, rssGrowth } from '../helpers/streams.js';
import { startUpstream, type RecordedRequest, type Upstream } from '../helpers/upstream.js';

const { track, keepAliveAgent } = useCleanup({ parallel: true });

interface CountingHooks {
  /** Called every 16 MiB received. */
  onBytes(): void;
  /** Called once after 64 MiB, with reading paused; reading resumes when it resolves. */
  whilePaused(receivedSoFar: number): Promise<void>;
}

/**
 * A plain upstream server (the recording helper would keep every body byte, which defeats a
 * memory bound): it counts and hashes the request body and answers both as JSON.
 */
async function countingUpstream(hooks: CountingHooks): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const hash = createHash('sha1');
    let bytes = 0;
    readPausingOnce(req, {
      onChunk: (buf) => {
        bytes += buf.length;
        hash.update(buf);
      },
      onSample: hooks.onBytes,
      whilePaused: hooks.whilePaused,
    });
    req.on('end', () => {
      const body = JSON.stringify({
        bytes,
        sha1: hash.digest('hex'),
        contentLength: req.headers['content-length'] ?? null,
        transferEncoding: req.headers['transfer-encoding'] ?? null,
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    });
  });
  return serveOnLoopback(server);
}

/** One request over a fresh connection; an array body is written as separate chunks. */
function send(url: string, method: string, headers: http.OutgoingHttpHeaders, body: Buffer | string | string[]): Promise<Reply> {
  return sendRequest(url, { method, headers, body });
}

describe('1 GiB upload', () => {
  it(
    'streams through the proxy with backpressure: a stalled upstream stalls the client; exact bytes; bounded memory',
    async () => {
      const memory = rssGrowth();
      let produced = 0;
      let aheadWhileStalled = -1;
      const up = track(
        await countingUpstream({
          onBytes: memory.sample,
          // While the upstream reads nothing, the client must soon be unable to write more.
          whilePaused: (receivedSoFar) =>
            stalled(() => produced).then(() => {
              aheadWhileStalled = produced - receivedSoFar;
              memory.sample();
            }),
        }),
      );
      const mw = track(proxy({ targets: up.url }));
      const app = express();
      app.use('/api', mw);
      const front = track(await listen(app));

      const sent = createHash('sha1');
      const reply = await new Promise<Reply>((resolve, reject) => {
        const req = http.request(`${front.url}/api/upload`, {
          method: 'PUT',
          agent: false,
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(GiB) },
        });
        req.on('response', (res) => readReply(res).then(resolve, reject));
        req.on('error', reject);
        // pipeline only pulls the next chunk when `req.write()` has room: backpressure end to end.
        const source = generated(GiB, (chunk) => {
          produced += chunk.length;
          sent.update(chunk);
        });
        pipeline(source, req, (err) => {
          if (err) reject(err);
        });
      });
      const growth = memory.stop();

      expect(reply.status).toBe(200);
      const seen = JSON.parse(reply.body.toString()) as {
        bytes: number;
        sha1: string;
        contentLength: string | null;
        transferEncoding: string | null;
      };
      expect(seen.bytes).toBe(GiB);
      expect(seen.sha1).toBe(sent.digest('hex'));
      expect(seen.contentLength).toBe(String(GiB));
      expect(seen.transferEncoding).toBeNull();
      // Between client and upstream only socket and stream buffers (a few MiB on loopback) were
      // in flight, far from the remaining ~960 MiB.
      expect(aheadWhileStalled).toBeGreaterThanOrEqual(0);
      expect(aheadWhileStalled).toBeLessThan(64 * MiB);
      expect(mw.stats()[0]).toMatchObject({ active: 0, requests: 1, failures: 0 });
      expect(growth).toBeLessThan(200 * MiB);
    },
    180_000,
  );
});

/** The upstream for parsed bodies: an Express app that parses every kind the same way the client side did. */
function parsingUpstream(): Promise<Upstream> {
  const app = express();
  app.use(express.json());
  app.use(express.urlencoded({ extended: true }));
  app.use(express.text());
  app.use(express.raw());
  app.use((req, res) => {
    const body: unknown = req.body;
    res.json({ parsed: Buffer.isBuffer(body) ? { base64: body.toString('base64') } : body });
  });
  return startUpstream((req, res) => {
    app(req, res);
  });
}

/** The single request the upstream saw, with framing checks every re-sent body must pass. */
function expectReframed(up: Upstream): RecordedRequest {
  expect(up.requests).toHaveLength(1);
  const seen = up.requests[0]!;
  expect(seen.complete).toBe(true);
  expect(seen.headers['content-length']).toBe(String(seen.body.length));
  expect(seen.headers['transfer-encoding']).toBeUndefined();
  // Exactly one Content-Length on the wire.
  const lengths = seen.rawHeaders.filter((_, i) => i % 2 === 0).filter((n) => n.toLowerCase() === 'content-length');
  expect(lengths).toHaveLength(1);
  return seen;
}

function appWith(parser: express.RequestHandler, mw: ProxyMiddleware): express.Express {
  const app = express();
  app.use('/api', parser, mw);
  return app;
}

describe('bodies consumed by a body parser are re-sent from req.body', () => {
  it('express.json(): the upstream gets the same JSON with a correct Content-Length', async () => {
    const up = track(await parsingUpstream());
    const mw = track(proxy({ targets: up.url }));
    const value = { name: 'Jörg ✓', list: [1, 2.5, { deep: [true, null] }], empty: {}, text: 'a\u0000b"c' };

    const res = await request(appWith(express.json(), mw)).post('/api/items').send(value).expect(200);

    expect(res.body.parsed).toEqual(value);
    const seen = expectReframed(up);
    expect(seen.body.toString('utf8')).toBe(JSON.stringify(value));
    expect(seen.headers['content-type']).toMatch(/^application\/json/);
    expect(seen.url).toBe('/items');
  });

  it('express.urlencoded({ extended: true }): nested objects and arrays arrive as the same parsed value', async () => {
    const up = track(await parsingUpstream());
    const mw = track(proxy({ targets: up.url }));
    const form =
      'user[name]=J%C3%B6rg+M&user[address][city]=K%C3%B6ln&user[address][zip]=50667' +
      '&tags[]=a&tags[]=b%26c&matrix[0][x]=1&matrix[1][x]=2&plain=%3D%3F%2B&empty=';
    const expected = {
      user: { name: 'Jörg M', address: { city: 'Köln', zip: '50667' } },
      tags: ['a', 'b&c'],
      matrix: [{ x: '1' }, { x: '2' }],
      plain: '=?+',
      empty: '',
    };

    const res = await request(appWith(express.urlencoded({ extended: true }), mw))
      .post('/api/form')
      .type('form')
      .send(form)
      .expect(200);

    expect(res.body.parsed).toEqual(expected);
    const seen = expectReframed(up);
    expect(seen.headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
  });

  it('express.text(): the upstream gets the same bytes', async () => {
    const up = track(await parsingUpstream());
    const mw = track(proxy({ targets: up.url }));
    const text = 'line one\nzweite Zeile: äöü ✓ 🚀\r\nend';

    const res = await request(appWith(express.text(), mw))
      .post('/api/text')
      .set('content-type', 'text/plain; charset=utf-8')
      .send(text)
      .expect(200);

    expect(res.body.parsed).toBe(text);
    const seen = expectReframed(up);
    expect(seen.body.equals(Buffer.from(text, 'utf8'))).toBe(true);
  });

  it('express.text() with a latin1 body: the upstream decodes the same text', async () => {
    const up = track(await parsingUpstream());
    const mw = track(proxy({ targets: up.url }));
    const text = 'café crème à la carte';

    const res = await request(appWith(express.text(), mw))
      .post('/api/text')
      .set('content-type', 'text/plain; charset=iso-8859-1')
      .send(Buffer.from(text, 'latin1'))
      .expect(200);

    // Whatever bytes are sent, they must mean the same text under the charset the upstream is told.
    expect(res.body.parsed).toBe(text);
    expectReframed(up);
  });

  it('express.raw(): the upstream gets the same binary bytes', async () => {
    const up = track(await parsingUpstream());
    const mw = track(proxy({ targets: up.url }));
    const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 13) % 256));

    const res = await request(appWith(express.raw(), mw))
      .put('/api/blob')
      .set('content-type', 'application/octet-stream')
      .send(bytes)
      .expect(200);

    expect(Buffer.from(res.body.parsed.base64 as string, 'base64').equals(bytes)).toBe(true);
    const seen = expectReframed(up);
    expect(seen.body.equals(bytes)).toBe(true);
  });

  it('a chunked body parsed by express.json() is re-sent with Content-Length, not Transfer-Encoding', async () => {
    const up = track(await parsingUpstream());
    const mw = track(proxy({ targets: up.url }));
    const front = track(await listen(appWith(express.json(), mw)));
    const value = { chunked: true, n: 42 };

    const json = JSON.stringify(value);
    const reply = await send(
      `${front.url}/api/chunked`,
      'POST',
      { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      [json.slice(0, 5), json.slice(5)],
    );

    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body.toString()).parsed).toEqual(value);
    const seen = expectReframed(up);
    expect(seen.body.toString()).toBe(JSON.stringify(value));
  });

  it('a gzip-encoded JSON body inflated by express.json() arrives as plain JSON without Content-Encoding', async () => {
    const up = track(await parsingUpstream());
    const mw = track(proxy({ targets: up.url }));
    const front = track(await listen(appWith(express.json(), mw)));
    const value = { compressed: 'yes', repeated: 'x'.repeat(2000) };
    const gz = gzipSync(Buffer.from(JSON.stringify(value)));

    const reply = await send(
      `${front.url}/api/gz`,
      'POST',
      { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': gz.length },
      gz,
    );

    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body.toString()).parsed).toEqual(value);
    const seen = expectReframed(up);
    expect(seen.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(seen.body.toString('utf8'))).toEqual(value);
    expect(seen.body.length).toBeGreaterThan(gz.length);
  });

  it('express.urlencoded() with a latin1 form: the upstream decodes the same values', async () => {
    const up = track(await parsingUpstream());
    const mw = track(proxy({ targets: up.url }));

    const res = await request(appWith(express.urlencoded({ extended: true }), mw))
      .post('/api/form')
      .set('content-type', 'application/x-www-form-urlencoded; charset=iso-8859-1')
      .send('dish[name]=cr%E8me+br%FBl%E9e&dish[price]=5')
      .expect(200);

    expect(res.body.parsed).toEqual({ dish: { name: 'crème brûlée', price: '5' } });
    expectReframed(up);
  });

  it('express.json() with a UTF-16 body: the upstream parses the same value', async () => {
    const up = track(await parsingUpstream());
    const mw = track(proxy({ targets: up.url }));
    const value = { greeting: 'grüß dich ✓' };

    const front = track(await listen(appWith(express.json(), mw)));
    const bytes = Buffer.from(JSON.stringify(value), 'utf16le');

    const reply = await send(
      `${front.url}/api/json16`,
      'POST',
      { 'content-type': 'application/json; charset=utf-16le', 'content-length': bytes.length },
      bytes,
    );

    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body.toString()).parsed).toEqual(value);
    const seen = expectReframed(up);
    expect(seen.headers['content-type']).toBe('application/json; charset=utf-8');
  });

  describe.each(mountModes)('mounted as %s', (mode) => {
    it('re-sends a JSON body parsed before the proxy', async () => {
      const up = track(await parsingUpstream());
      const mw = track(proxy({ targets: up.url }));
      const m = mount(mode, mw, { before: [express.json() as Middleware] });
      const value = { mode, nested: { ok: true } };

      const res = await request(m.handler).post(m.clientPath('/json')).send(value).expect(200);

      expect(res.body.parsed).toEqual(value);
      const seen = expectReframed(up);
      expect(seen.body.toString()).toBe(JSON.stringify(value));
    });
  });
});

describe('a parsed JSON body is re-sent as the same JSON value (issue 12)', () => {
  /** Posts `raw` as application/json through `parser` and the proxy; returns what the upstream saw. */
  async function postJson(parser: express.RequestHandler, raw: string | string[], headers: Record<string, string> = {}) {
    const up = track(await startUpstream());
    const mw = track(proxy({ targets: up.url }));
    const front = track(await listen(appWith(parser, mw)));
    const reply = await sendRequest(`${front.url}/api/value`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: raw,
    });
    expect(reply.status).toBe(200);
    return expectReframed(up);
  }

  it.each([
    ['a JSON string', '"hello"'],
    ['an empty JSON string', '""'],
    ['a JSON string that is itself JSON text', '"{\\"a\\":1}"'],
    ['a JSON string with escapes', '"caf\\u00e9 \\"q\\""'],
    ['a number', '42'],
    ['null', 'null'],
  ])('express.json({ strict: false }) with %s: the upstream gets the same JSON value', async (_, raw) => {
    const seen = await postJson(express.json({ strict: false }), raw);
    expect(JSON.parse(seen.body.toString('utf8'))).toEqual(JSON.parse(raw));
  });

  it('express.json({ strict: false }) with a chunked JSON string: the upstream gets the same JSON value', async () => {
    const seen = await postJson(express.json({ strict: false }), ['"hel', 'lo"']);
    expect(seen.body.toString('utf8')).toBe('"hello"');
  });

  it('express.json({ strict: false }) with a UTF-16 JSON string: the upstream gets the same JSON value', async () => {
    const up = track(await startUpstream());
    const mw = track(proxy({ targets: up.url }));
    const front = track(await listen(appWith(express.json({ strict: false }), mw)));
    const reply = await sendRequest(`${front.url}/api/value`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-16le' },
      body: Buffer.from('"héllo"', 'utf16le'),
    });
    expect(reply.status).toBe(200);
    const seen = expectReframed(up);
    expect(seen.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(seen.body.toString('utf8')).toBe('"héllo"');
  });

  it('Content-Length: 0 behind express.json() arrives empty, not as {}', async () => {
    const seen = await postJson(express.json(), '', { 'content-length': '0' });
    expect(seen.body.length).toBe(0);
    expect(seen.headers['content-length']).toBe('0');
  });

  it('Content-Length: 0 behind express.json() with req.body filled in by a middleware: the upstream gets that value', async () => {
    const up = track(await startUpstream());
    const mw = track(proxy({ targets: up.url }));
    const app = express();
    app.use('/api', express.json(), (req, _res, next) => {
      (req.body as Record<string, unknown>).added = true;
      next();
    }, mw);
    const front = track(await listen(app));
    const reply = await sendRequest(`${front.url}/api/value`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': '0' },
      body: '',
    });
    expect(reply.status).toBe(200);
    expect(expectReframed(up).body.toString('utf8')).toBe('{"added":true}');
  });

  it.each([
    ['an object', '{"a": [1, 2]}'],
    ['a JSON string', '"hello"'],
    ['text that is not JSON', 'hello'],
    ['non-ASCII JSON', '{"name":"Jörg ✓"}'],
  ])('express.text({ type: application/json }) with %s: the upstream gets the same bytes', async (_, raw) => {
    const seen = await postJson(express.text({ type: 'application/json' }), raw);
    expect(seen.body.toString('utf8')).toBe(raw);
  });
});

describe('a body the parser did not match streams through untouched', () => {
  it('text/plain behind express.json(): same bytes, same Content-Length', async () => {
    const up = track(await startUpstream());
    const mw = track(proxy({ targets: up.url }));
    const text = '{"looks":"like json"} but is text ✓';

    const res = await request(appWith(express.json(), mw))
      .post('/api/text')
      .set('content-type', 'text/plain')
      .send(text)
      .expect(200);

    expect(res.body.bodyLength).toBe(Buffer.byteLength(text));
    const seen = up.requests[0]!;
    expect(seen.body.equals(Buffer.from(text, 'utf8'))).toBe(true);
    expect(seen.headers['content-length']).toBe(String(Buffer.byteLength(text)));
    expect(seen.headers['transfer-encoding']).toBeUndefined();
  });

  it('a chunked text/plain body behind express.json() stays chunked, bytes intact', async () => {
    const up = track(await startUpstream());
    const mw = track(proxy({ targets: up.url }));
    const front = track(await listen(appWith(express.json(), mw)));
    const parts = ['first part, ', 'second part, ', 'x'.repeat(100_000)];

    const reply = await send(
      `${front.url}/api/stream`,
      'POST',
      { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' },
      parts,
    );

    expect(reply.status).toBe(200);
    const seen = up.requests[0]!;
    expect(seen.body.toString()).toBe(parts.join(''));
    expect(seen.headers['transfer-encoding']).toBe('chunked');
    expect(seen.headers['content-length']).toBeUndefined();
  });
});

describe('an upstream that answers before reading the whole body', () => {
  /** Answers 413 as soon as the request headers arrive, never reading the body. */
  function earlyRejecter(): Promise<Upstream> {
    return startUpstream((_req, res) => {
      res.writeHead(413, { 'content-type': 'text/plain', 'content-length': '14' }).end('too large, bye');
    });
  }

  for (const framing of ['content-length', 'chunked'] as const) {
    it(`the client gets the 413 while still uploading, and nothing hangs (${framing} body larger than socket buffers)`, async () => {
      const up = track(await earlyRejecter());
      const errors: unknown[] = [];
      const mw = track(proxy({ targets: up.url, errorHandler: (err) => void errors.push(err) }));
      const front = track(await listen(express().use('/api', mw)));
      const size = 64 * MiB;

      // A keep-alive client: the early answer must reach it although its upload cannot finish.
      const agent = keepAliveAgent();
      let produced = 0;
      let producedAtResponse = -1;
      let settled!: Promise<string>;
      const reply = await new Promise<Reply>((resolve, reject) => {
        const req = http.request(`${front.url}/api/upload`, {
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/octet-stream',
            ...(framing === 'content-length' ? { 'content-length': String(size) } : { 'transfer-encoding': 'chunked' }),
          },
        });
        // Nothing hangs: the upload ends by itself, drained or cut by a closed connection.
        settled = new Promise((done) => {
          req.once('finish', () => done('body sent'));
          req.once('close', () => done('connection closed'));
        });
        req.on('response', (res) => {
          producedAtResponse = produced;
          readReply(res).then(resolve, reject);
        });
        req.on('error', () => {
          // Expected once the connection is closed while the rest of the body is being sent.
        });
        pipeline(generated(size, (chunk) => void (produced += chunk.length)), req, () => {});
      });

      expect(reply.status).toBe(413);
      expect(reply.body.toString()).toBe('too large, bye');
      // The answer was relayed at once, not after the whole body went through.
      expect(producedAtResponse).toBeGreaterThanOrEqual(0);
      expect(producedAtResponse).toBeLessThan(size);
      expect(['body sent', 'connection closed']).toContain(await settled);
      expect(mw.stats()[0]).toMatchObject({ active: 0, requests: 1 });
      expect(mw.stats()[0]!.statuses[413]).toBe(1);
      expect(errors).toEqual([]);

      // The proxy keeps working afterwards.
      const after = await request(front.server).get('/api/after').expect(413);
      expect(after.text).toBe('too large, bye');
    }, 60_000);
  }
});
