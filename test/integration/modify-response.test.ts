/**
 * `modifyResponse`: mutating status and headers, replacing the body (string, Buffer,
 * Uint8Array, Readable) with correct framing, `readBody` on compressed upstream bodies,
 * async / throwing / rejecting hooks, `expectedStatus`, and `res.locals[contextKey]`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import express from 'express';
import { describe, expect, it } from 'vitest';
import {
  proxy,
  ProxyError,
  readBody,
  type BodyLike,
  type ModifyResponse,
  type ProxyConfig,
  type ProxyMiddleware,
  type ProxyTarget,
} from '../../src/index.js';
import { sendRequest, type Reply } from '../helpers/client.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { listen, type Listening } from '../helpers/listen.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const { track } = useCleanup();

async function upstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Upstream> {
  return track(await startUpstream(handler));
}

/** Serves `mw` mounted at `/api` in Express (default) or as a bare http handler. */
async function serve(config: ProxyConfig, mode: 'express' | 'bare' = 'express'): Promise<{ mw: ProxyMiddleware; server: Listening }> {
  const mw = track(proxy(config));
  let server: Listening;
  if (mode === 'bare') {
    server = await listen((req, res) => mw(req, res));
  } else {
    const app = express();
    app.disable('x-powered-by');
    app.use('/api', mw);
    server = await listen(app);
  }
  return { mw, server: track(server) };
}

/** A GET over a fresh connection; the body is returned exactly as it arrived (never decompressed). */
function get(url: string, headers: Record<string, string> = {}): Promise<Reply> {
  return sendRequest(url, { headers });
}

const ORIGINAL = JSON.stringify({ n: 1, text: 'original upstream body' });

/** An upstream answering ORIGINAL gzip-compressed, with Content-Length and some headers. */
async function gzipUpstream(): Promise<Upstream> {
  const compressed = zlib.gzipSync(ORIGINAL);
  return upstream((_req, res) => {
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Content-Encoding': 'gzip',
      'Content-Length': compressed.length,
      'X-Upstream': 'yes',
    });
    res.end(compressed);
  });
}

describe('mutating proxyRes', () => {
  it('changes the status and headers the client gets; the body streams unchanged', async () => {
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'X-Up': 'a', 'X-Remove': 'r', 'Content-Type': 'text/plain' }).end('unchanged body');
    });
    const { server } = await serve({
      targets: up.url,
      modifyResponse: (proxyRes) => {
        proxyRes.statusCode = 201;
        proxyRes.headers['x-added'] = 'yes';
        proxyRes.headers['x-up'] = 'changed';
        delete proxyRes.headers['x-remove'];
      },
    });
    const res = await get(`${server.url}/api/x`);
    expect(res.status).toBe(201);
    expect(res.headers['x-added']).toBe('yes');
    expect(res.headers['x-up']).toBe('changed');
    expect(res.headers['x-remove']).toBeUndefined();
    expect(res.body.toString()).toBe('unchanged body');
  });

  it('a hook that returns nothing keeps the upstream body and its Content-Encoding', async () => {
    const up = await gzipUpstream();
    const { server } = await serve({ targets: up.url, modifyResponse: () => undefined });
    const res = await get(`${server.url}/api/x`);
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(zlib.gunzipSync(res.body).toString()).toBe(ORIGINAL);
  });
});

describe('replacing the body', () => {
  const replacement = 'replaced — ünïcode body';
  const bytes = Buffer.from(replacement, 'utf8');

  it.each<[string, () => BodyLike, boolean]>([
    ['a string', () => replacement, true],
    ['a Buffer', () => Buffer.from(bytes), true],
    // A view into the middle of a larger buffer: only its own bytes may be sent.
    ['a Uint8Array', () => new Uint8Array(Buffer.concat([Buffer.from('<<'), bytes, Buffer.from('>>')])).subarray(2, 2 + bytes.length), true],
    ['a Readable', () => Readable.from([bytes.subarray(0, 5), bytes.subarray(5)]), false],
  ])('returning %s', async (_case, makeBody, fixedLength) => {
    const up = await gzipUpstream();
    const { server } = await serve({ targets: up.url, modifyResponse: () => makeBody() });
    const res = await get(`${server.url}/api/x`, { 'accept-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(res.body.toString('utf8')).toBe(replacement);
    expect(res.headers['content-encoding']).toBeUndefined();
    if (fixedLength) {
      expect(res.headers['content-length']).toBe(String(bytes.length));
      expect(res.headers['transfer-encoding']).toBeUndefined();
    } else {
      // The upstream's length described the old body: it must not survive.
      expect(res.headers['content-length']).toBeUndefined();
      expect(res.headers['transfer-encoding']).toBe('chunked');
    }
    // Other upstream headers are kept.
    expect(res.headers['x-upstream']).toBe('yes');
    expect(res.headers['content-type']).toBe('application/json');
  });

  it('an empty string replaces the body with nothing (Content-Length: 0)', async () => {
    const up = await gzipUpstream();
    const { server } = await serve({ targets: up.url, modifyResponse: () => '' });
    const res = await get(`${server.url}/api/x`);
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
    expect(res.headers['content-length']).toBe('0');
    expect(res.headers['content-encoding']).toBeUndefined();
  });

  it('a Content-Encoding the hook sets for its new body is kept', async () => {
    const up = await gzipUpstream();
    const { server } = await serve({
      targets: up.url,
      modifyResponse: (proxyRes) => {
        proxyRes.headers['content-encoding'] = 'br';
        return zlib.brotliCompressSync('re-encoded');
      },
    });
    const res = await get(`${server.url}/api/x`);
    expect(res.headers['content-encoding']).toBe('br');
    expect(zlib.brotliDecompressSync(res.body).toString()).toBe('re-encoded');
    expect(res.headers['content-length']).toBe(String(res.body.length));
  });

  it('a Content-Encoding set by modifyResponse is kept when the upstream sent none (issue 12)', async () => {
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5 }).end('plain');
    });
    const { server } = await serve({
      targets: up.url,
      modifyResponse: async (proxyRes) => {
        const text = (await readBody(proxyRes)).toString();
        proxyRes.headers['content-encoding'] = 'gzip';
        return zlib.gzipSync(`${text}, now gzipped`);
      },
    });
    const res = await get(`${server.url}/api/x`);
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(zlib.gunzipSync(res.body).toString()).toBe('plain, now gzipped');
    expect(res.headers['content-length']).toBe(String(res.body.length));
  });

  it("a Content-Encoding left at the upstream's value is dropped with the old body, even if re-assigned", async () => {
    const up = await gzipUpstream();
    const { server } = await serve({
      targets: up.url,
      modifyResponse: async (proxyRes, req) => {
        const json = JSON.parse((await readBody(proxyRes)).toString()) as { n: number };
        // Assigning the same value is leaving it alone: only the value after the hook counts.
        if (req.url === '/reassigned') proxyRes.headers['content-encoding'] = 'gzip';
        return JSON.stringify({ n: json.n + 1 });
      },
    });
    for (const path of ['/untouched', '/reassigned']) {
      const res = await get(`${server.url}/api${path}`);
      expect(res.headers['content-encoding'], path).toBeUndefined();
      expect(JSON.parse(res.body.toString()), path).toEqual({ n: 2 });
    }
  });

  it('a Content-Encoding removed by the hook stays removed, also with the body kept', async () => {
    const up = await gzipUpstream();
    const { server } = await serve({
      targets: up.url,
      modifyResponse: (proxyRes, req) => {
        delete proxyRes.headers['content-encoding'];
        return req.url === '/replaced' ? 'plain' : undefined;
      },
    });
    const replaced = await get(`${server.url}/api/replaced`);
    expect(replaced.headers['content-encoding']).toBeUndefined();
    expect(replaced.body.toString()).toBe('plain');
    const kept = await get(`${server.url}/api/kept`);
    expect(kept.headers['content-encoding']).toBeUndefined();
    expect(zlib.gunzipSync(kept.body).toString()).toBe(ORIGINAL);
  });

  it('a hook that replaces the headers object is judged by the same rule', async () => {
    const up = await gzipUpstream();
    const { server } = await serve({
      targets: up.url,
      modifyResponse: (proxyRes, req) => {
        const encoding = req.url === '/br' ? 'br' : 'gzip';
        proxyRes.headers = { 'content-type': 'text/plain', 'content-encoding': encoding };
        return encoding === 'br' ? zlib.brotliCompressSync('new') : 'new';
      },
    });
    const br = await get(`${server.url}/api/br`);
    expect(br.headers['content-encoding']).toBe('br');
    expect(zlib.brotliDecompressSync(br.body).toString()).toBe('new');
    const same = await get(`${server.url}/api/same`);
    expect(same.headers['content-encoding']).toBeUndefined();
    expect(same.body.toString()).toBe('new');
  });
});

describe('readBody inside the hook', () => {
  const compressors: Array<[string, (b: Buffer) => Buffer]> = [
    ['gzip', (b) => zlib.gzipSync(b)],
    ['deflate', (b) => zlib.deflateSync(b)],
    ['br', (b) => zlib.brotliCompressSync(b)],
  ];

  it.each(compressors)('decodes a %s upstream body and returns a modified one', async (coding, compress) => {
    const payload = JSON.stringify({ n: 1, items: Array.from({ length: 200 }, (_, i) => `item-${i}`) });
    const compressed = compress(Buffer.from(payload));
    const up = await upstream((_req, res) => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-encoding': coding,
        'content-length': compressed.length,
      });
      res.end(compressed);
    });
    const hook: ModifyResponse = async (proxyRes) => {
      const data = JSON.parse((await readBody(proxyRes)).toString('utf8')) as { n: number; items: string[] };
      return JSON.stringify({ n: data.n + 1, count: data.items.length, coding });
    };
    const { server } = await serve({ targets: up.url, modifyResponse: hook });
    const res = await get(`${server.url}/api/data`);
    const expected = JSON.stringify({ n: 2, count: 200, coding });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe(expected);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(expected)));
  });
});

describe('async, throwing and rejecting hooks', () => {
  it('an async hook is awaited before anything is sent', async () => {
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('body');
    });
    const { server } = await serve({
      targets: up.url,
      modifyResponse: async (proxyRes) => {
        await new Promise((resolve) => setImmediate(resolve));
        proxyRes.statusCode = 202;
        proxyRes.headers['x-async'] = 'done';
      },
    });
    const res = await get(`${server.url}/api/x`);
    expect(res.status).toBe(202);
    expect(res.headers['x-async']).toBe('done');
    expect(res.body.toString()).toBe('body');
  });

  it.each<[string, (cause: Error) => ModifyResponse]>([
    ['a throwing hook', (cause) => () => {
      throw cause;
    }],
    ['a rejecting hook', (cause) => async () => {
      await Promise.resolve();
      throw cause;
    }],
  ])('%s fails with 502 RESPONSE_HOOK_FAILED through the error handler', async (_case, makeHook) => {
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'yes' }).end('upstream-body-NOT-SENT');
    });
    const cause = new Error('hook-internal-detail');
    const seen: ProxyError[] = [];
    const { mw, server } = await serve({
      targets: { url: up.url, name: 'hooked' },
      modifyResponse: makeHook(cause),
      errorHandler: (err, _req, res) => {
        seen.push(err);
        res.statusCode = err.status;
        res.end(`handled:${err.code}`);
      },
    });
    const res = await get(`${server.url}/api/x`);
    expect(res.status).toBe(502);
    expect(res.body.toString()).toBe('handled:RESPONSE_HOOK_FAILED');
    expect(res.headers['x-upstream']).toBeUndefined();
    expect(seen).toHaveLength(1);
    const err = seen[0]!;
    expect(err).toBeInstanceOf(ProxyError);
    expect(err).toMatchObject({ code: 'RESPONSE_HOOK_FAILED', status: 502, attempts: 1, connected: true });
    expect(err.cause).toBe(cause);
    expect(err.target?.name).toBe('hooked');
    expect(mw.stats()[0]).toMatchObject({ requests: 1, failures: 1, active: 0 });
    expect(mw.stats()[0]?.statuses[502]).toBe(1);
  });

  it('the built-in handler answers a hook failure without the upstream body or the cause', async () => {
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('upstream-body-NOT-SENT');
    });
    const { server } = await serve({
      targets: up.url,
      modifyResponse: async () => {
        throw new Error('hook-internal-detail');
      },
    });
    const res = await get(`${server.url}/api/x`, { accept: 'application/json' });
    expect(res.status).toBe(502);
    expect(res.body.toString()).toBe('{"error":{"status":502,"code":"RESPONSE_HOOK_FAILED","message":"Bad Gateway"}}');
  });

  it('a hook returning something that is not a body is a hook failure', async () => {
    const up = await upstream((_req, res) => {
      res.end('x');
    });
    const seen: ProxyError[] = [];
    const { server } = await serve({
      targets: up.url,
      modifyResponse: (() => 42) as unknown as ModifyResponse,
      errorHandler: (err, _req, res) => {
        seen.push(err);
        res.statusCode = err.status;
        res.end();
      },
    });
    const res = await get(`${server.url}/api/x`);
    expect(res.status).toBe(502);
    expect(seen[0]?.code).toBe('RESPONSE_HOOK_FAILED');
    expect(seen[0]?.cause).toBeInstanceOf(TypeError);
  });

  it('after a hook failure the same upstream keeps working', async () => {
    const up = await upstream((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`ok ${req.url}`);
    });
    const { server } = await serve({
      targets: up.url,
      modifyResponse: (_proxyRes, req) => {
        if (req.url === '/fail') throw new Error('only this one');
      },
    });
    expect((await get(`${server.url}/api/fail`)).status).toBe(502);
    const res = await get(`${server.url}/api/next`);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('ok /next');
  });
});

describe('expectedStatus', () => {
  it('an upstream status outside the list is 502 UNEXPECTED_STATUS and its body is not sent', async () => {
    const up = await upstream((req, res) => {
      if (req.url === '/ok') res.writeHead(200, { 'content-type': 'text/plain' }).end('fine');
      else res.writeHead(500, { 'content-type': 'text/plain', 'x-upstream-error': 'yes' }).end('upstream-secret-500-body');
    });
    let hookCalls = 0;
    const seen: ProxyError[] = [];
    const { mw, server } = await serve({
      targets: up.url,
      expectedStatus: [200],
      modifyResponse: () => {
        hookCalls++;
      },
      errorHandler: (err, req, res, next) => {
        seen.push(err);
        next(err);
      },
    });
    // No Express error middleware here: Express's own final handler answers a 502 ProxyError
    // with its status; use the bare mode for the built-in handler's body below.
    const viaExpress = await get(`${server.url}/api/fail`);
    expect(viaExpress.status).toBe(502);
    expect(viaExpress.body.toString()).not.toContain('upstream-secret-500-body');
    expect(viaExpress.headers['x-upstream-error']).toBeUndefined();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ code: 'UNEXPECTED_STATUS', status: 502, connected: true, attempts: 1 });
    expect(hookCalls).toBe(0);

    const ok = await get(`${server.url}/api/ok`);
    expect(ok.status).toBe(200);
    expect(ok.body.toString()).toBe('fine');
    expect(hookCalls).toBe(1);
    expect(mw.stats()[0]).toMatchObject({ requests: 2, failures: 1, active: 0 });
  });

  it('the built-in handler answers UNEXPECTED_STATUS as 502 JSON', async () => {
    const up = await upstream((_req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('upstream-secret-503-body');
    });
    const { server } = await serve({ targets: up.url, expectedStatus: [200, 204] }, 'bare');
    const res = await get(`${server.url}/x`, { accept: 'application/json' });
    expect(res.status).toBe(502);
    expect(res.body.toString()).toBe('{"error":{"status":502,"code":"UNEXPECTED_STATUS","message":"Bad Gateway"}}');
  });
});

describe('res.locals[contextKey] inside the hook', () => {
  function echoTargetHook(key: string): ModifyResponse {
    return (proxyRes, _req, res) => {
      const target = (res as ServerResponse & { locals?: Record<string, unknown> }).locals?.[key] as ProxyTarget | undefined;
      proxyRes.headers['x-target'] = target?.name ?? 'none';
      proxyRes.headers['x-target-zone'] = String(target?.meta['zone'] ?? 'none');
    };
  }

  it.each<['express' | 'bare', string | undefined]>([
    ['express', undefined],
    ['express', 'upstream'],
    ['bare', undefined],
  ])('in %s with contextKey %s', async (mode, contextKey) => {
    const up = await upstream((_req, res) => {
      res.end('x');
    });
    const key = contextKey ?? 'target';
    const { server } = await serve(
      {
        targets: { url: up.url, name: 'backend-a', meta: { zone: 'eu-1' } },
        modifyResponse: echoTargetHook(key),
        ...(contextKey === undefined ? {} : { contextKey }),
      },
      mode,
    );
    const res = await get(`${server.url}${mode === 'bare' ? '' : '/api'}/x`);
    expect(res.status).toBe(200);
    expect(res.headers['x-target']).toBe('backend-a');
    expect(res.headers['x-target-zone']).toBe('eu-1');
  });
});
