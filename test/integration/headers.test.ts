/**
 * Contract "Headers": `headers` / `responseHeaders` rules, `xfwd` and `trustProxy`,
 * `preserveHost`, hop-by-hop removal, chunked bodies, Set-Cookie and headers set by earlier
 * middleware. Real upstreams on 127.0.0.1, real HTTP through an Express app.
 * Raw-socket cases (exact bytes on the wire) are in headers-raw.test.ts.
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import type { ProxyConfig, ProxyMiddleware } from '../../src/index.js';
import { sendText, type TextReply } from '../helpers/client.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { listen, type Listening } from '../helpers/listen.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/**
 * One request over node:http with exactly the headers given (no agent, so nothing is pooled).
 * `body` chunks are written one by one without a Content-Length, so Node sends them chunked.
 */
function send(
  url: string,
  opts: { method?: string; path?: string; headers?: OutgoingHttpHeaders; body?: string[] } = {},
): Promise<TextReply> {
  const target = new URL(opts.path ?? '/', url);
  return sendText(
    { host: '127.0.0.1', port: target.port, path: target.pathname + target.search },
    { method: opts.method, headers: opts.headers, body: opts.body ?? [] },
  );
}

/** Raw header names of a reply, in the case they arrived. */
function rawNames(raw: readonly string[]): string[] {
  return raw.filter((_, i) => i % 2 === 0);
}

/** An Express app: `before` middleware, the proxy at `/api`, then a recognisable error handler. */
function appWith(mw: ProxyMiddleware, before: RequestHandler[] = []): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use('/api', ...before, mw);
  app.use(((err: unknown, _req, res, _next) => {
    res.status(500).type('text/plain').send(`express-error: ${err instanceof Error ? err.message : String(err)}`);
  }) as ErrorRequestHandler);
  return app;
}

const { track, proxyFor } = useCleanup({ parallel: true });

/** Starts the proxy app; everything is closed after each test. */
async function serve(config: ProxyConfig, before: RequestHandler[] = []): Promise<{ mw: ProxyMiddleware; front: Listening }> {
  const mw = proxyFor(config);
  const front = track(await listen(appWith(mw, before)));
  return { mw, front };
}

async function upstream(handler?: (req: IncomingMessage, res: ServerResponse) => void): Promise<Upstream> {
  const up = track(handler === undefined ? await startUpstream() : await startUpstream(handler));
  return up;
}

describe('headers: rules on the upstream request', () => {
  it('sets constants, placeholders and function values; undefined keeps, null removes', async () => {
    const up = await upstream();
    const { front } = await serve({
      targets: up.url,
      headers: {
        'X-Const': 'constant-value',
        'X-Addr': '{addr}',
        'X-Copy': 'copy:{header.x-a}',
        'X-Method': '{method}',
        'X-Fn': (req) => `fn:${String(req.headers['x-a'])}`,
        'X-Keep': () => undefined,
        'X-Absent': () => undefined,
        'X-Remove': null,
      },
    });
    const reply = await send(front.url, {
      method: 'PUT',
      path: '/api/thing',
      headers: { 'X-A': 'hello', 'X-Const': 'from-client', 'X-Keep': 'client-keep', 'X-Remove': 'secret' },
    });
    expect(reply.status).toBe(200);
    expect(up.requests).toHaveLength(1);
    const h = up.requests[0]!.headers;
    expect(h['x-const']).toBe('constant-value');
    expect(h['x-addr']).toBe('127.0.0.1');
    expect(h['x-copy']).toBe('copy:hello');
    expect(h['x-method']).toBe('PUT');
    expect(h['x-fn']).toBe('fn:hello');
    expect(h['x-keep']).toBe('client-keep');
    expect(h['x-absent']).toBeUndefined();
    expect(h['x-remove']).toBeUndefined();
    // The client's own headers are otherwise forwarded.
    expect(h['x-a']).toBe('hello');
  });

  it('renders a missing {header.NAME} as empty', async () => {
    const up = await upstream();
    const { front } = await serve({ targets: up.url, headers: { 'X-Copy': '[{header.x-missing}]' } });
    const reply = await send(front.url, { path: '/api/' });
    expect(reply.status).toBe(200);
    expect(up.requests[0]!.headers['x-copy']).toBe('[]');
  });

  it('hands a throwing header function to next(err); the upstream is not contacted and the server lives on', async () => {
    const up = await upstream();
    let calls = 0;
    const { front } = await serve({
      targets: up.url,
      headers: {
        'X-Boom': (req) => {
          calls++;
          if (req.headers['x-explode'] !== undefined) throw new Error('header function exploded');
          return 'fine';
        },
      },
    });
    const bad = await send(front.url, { path: '/api/x', headers: { 'X-Explode': '1' } });
    expect(bad.status).toBe(500);
    expect(bad.body).toBe('express-error: header function exploded');
    expect(up.requests).toHaveLength(0);
    // The same middleware keeps serving.
    const good = await send(front.url, { path: '/api/y' });
    expect(good.status).toBe(200);
    expect(up.requests).toHaveLength(1);
    expect(up.requests[0]!.headers['x-boom']).toBe('fine');
    expect(calls).toBe(2);
  });
});

describe('header functions returning a promise (issue 12)', () => {
  it.each(['headers', 'responseHeaders'] as const)(
    'an async function in %s fails with a TypeError naming the option, handed to next(err)',
    async (option) => {
      const up = await upstream();
      const asyncRule = (async () => 'late') as unknown as () => string;
      const rejecting = (() => Promise.reject(new Error('late and wrong'))) as unknown as () => string;
      const { front } = await serve({ targets: up.url, [option]: { 'X-Async': asyncRule } });
      const reply = await send(front.url, { path: '/api/x' });
      expect(reply.status).toBe(500);
      expect(reply.body).toBe(`express-error: switchyard: ${option}['X-Async'] returned a Promise; it must answer synchronously: return a string (compute async values in a middleware before the proxy)`);
      // A rejecting promise is dropped, never an unhandled rejection.
      const other = await serve({ targets: up.url, [option]: { 'X-Reject': rejecting } });
      expect((await send(other.front.url, { path: '/api/y' })).body).toMatch(/^express-error: switchyard: \w+\['X-Reject'\] returned a Promise/);
    },
  );
});

describe('responseHeaders: rules on the client response', () => {
  it('sets constants, templates and function values in the user spelling; null removes an upstream header', async () => {
    const up = await upstream((_req, res) => {
      res.setHeader('X-Up-Remove', 'gone');
      res.setHeader('X-Up-Keep', 'kept');
      res.setHeader('X-Override', 'upstream');
      res.setHeader('X-Fn-Undef', 'upstream-value');
      res.setHeader('content-type', 'text/plain');
      res.end('body');
    });
    const { front } = await serve({
      targets: up.url,
      responseHeaders: {
        'X-Resp-Const': 'c',
        'X-Resp-TPL': '{method} {header.x-a} {addr}',
        'x-RESP-fn': (req) => `fn-${String(req.headers['x-a'])}`,
        'X-Fn-Undef': () => undefined,
        'X-Up-Remove': null,
        'X-Override': 'proxy',
      },
    });
    const reply = await send(front.url, { method: 'POST', path: '/api/r', headers: { 'X-A': 'abc' } });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('body');
    expect(reply.headers['x-resp-const']).toBe('c');
    expect(reply.headers['x-resp-tpl']).toBe('POST abc 127.0.0.1');
    expect(reply.headers['x-resp-fn']).toBe('fn-abc');
    expect(reply.headers['x-fn-undef']).toBe('upstream-value');
    expect(reply.headers['x-up-remove']).toBeUndefined();
    expect(reply.headers['x-up-keep']).toBe('kept');
    expect(reply.headers['x-override']).toBe('proxy');
    const names = rawNames(reply.rawHeaders);
    expect(names).toContain('X-Resp-Const');
    expect(names).toContain('X-Resp-TPL');
    expect(names).toContain('x-RESP-fn');
    // Exactly one X-Override: the rule replaced the upstream's value.
    expect(names.filter((n) => n.toLowerCase() === 'x-override')).toHaveLength(1);
  });
});

describe('xfwd and trustProxy', () => {
  let up: Upstream;
  beforeAll(async () => {
    up = await startUpstream();
  });
  afterAll(async () => {
    await up.close();
  });

  async function forwardedFor(config: Omit<ProxyConfig, 'targets'>, headers: OutgoingHttpHeaders): Promise<IncomingHttpHeaders> {
    const { front } = await serve({ targets: up.url, ...config });
    const before = up.requests.length;
    const reply = await send(front.url, { path: '/api/xf', headers });
    expect(reply.status).toBe(200);
    expect(up.requests.length).toBe(before + 1);
    return up.requests[before]!.headers;
  }

  const forged = {
    Host: 'client.example:8080',
    'X-Forwarded-For': '1.2.3.4',
    'X-Forwarded-Proto': 'https',
    'X-Forwarded-Host': 'forged.example',
  };

  it('adds X-Forwarded-For/Proto/Host by default', async () => {
    const h = await forwardedFor({}, { Host: 'client.example:8080' });
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe('client.example:8080');
  });

  it('replaces client-sent X-Forwarded-* when the peer is not trusted (default)', async () => {
    const h = await forwardedFor({}, forged);
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe('client.example:8080');
  });

  it.each<[string, ProxyConfig['trustProxy']]>([
    ['an untrusting list', ['10.0.0.0/8', '192.168.1.1']],
    ['a function returning false', () => false],
    ['false', false],
  ])('replaces client-sent X-Forwarded-* with trustProxy = %s', async (_label, trustProxy) => {
    const h = await forwardedFor({ trustProxy }, forged);
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe('client.example:8080');
  });

  it.each<[string, ProxyConfig['trustProxy']]>([
    ['true', true],
    ["['127.0.0.1']", ['127.0.0.1']],
    ["['127.0.0.0/8']", ['127.0.0.0/8']],
    ['a function', (ip: string) => ip === '127.0.0.1'],
  ])('appends the client IP to a trusted chain with trustProxy = %s', async (_label, trustProxy) => {
    const h = await forwardedFor({ trustProxy }, forged);
    expect(h['x-forwarded-for']).toBe('1.2.3.4, 127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('https');
    expect(h['x-forwarded-host']).toBe('forged.example');
  });

  it('passes the peer IP to a trustProxy function', async () => {
    const seen: string[] = [];
    await forwardedFor({ trustProxy: (ip) => (seen.push(ip), true) }, forged);
    expect(seen).toContain('127.0.0.1');
  });

  it('fills in its own values when a trusted peer sends no X-Forwarded-*', async () => {
    const h = await forwardedFor({ trustProxy: true }, { Host: 'client.example:8080' });
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe('client.example:8080');
  });

  it('adds none with xfwd: false', async () => {
    const h = await forwardedFor({ xfwd: false }, { Host: 'client.example:8080' });
    expect(h['x-forwarded-for']).toBeUndefined();
    expect(h['x-forwarded-proto']).toBeUndefined();
    expect(h['x-forwarded-host']).toBeUndefined();
  });

  it('a header rule has the last word over X-Forwarded-For', async () => {
    const h = await forwardedFor({ headers: { 'X-Forwarded-For': null, 'X-Real-IP': '{addr}' } }, forged);
    expect(h['x-forwarded-for']).toBeUndefined();
    expect(h['x-real-ip']).toBe('127.0.0.1');
  });
});

describe('preserveHost', () => {
  it('false (default): the upstream Host is the target host:port', async () => {
    const up = await upstream();
    const { front } = await serve({ targets: up.url });
    await send(front.url, { path: '/api/h', headers: { Host: 'client.example:8080' } });
    expect(up.requests[0]!.headers.host).toBe(`127.0.0.1:${up.port}`);
  });

  it("true: the upstream Host is the client's Host", async () => {
    const up = await upstream();
    const { front } = await serve({ targets: up.url, preserveHost: true });
    await send(front.url, { path: '/api/h', headers: { Host: 'client.example:8080' } });
    expect(up.requests[0]!.headers.host).toBe('client.example:8080');
  });
});

describe('hop-by-hop headers on the request', () => {
  it('never reach the upstream; end-to-end headers do', async () => {
    const up = await upstream();
    const { front } = await serve({ targets: up.url });
    // A chunked POST: Node's client refuses a Trailer header on a message without a chunked body.
    const reply = await send(front.url, {
      method: 'POST',
      path: '/api/hop',
      body: ['pay', 'load'],
      headers: {
        Connection: 'keep-alive, X-Secret',
        'X-Secret': 'do-not-forward',
        'Keep-Alive': 'timeout=5',
        'Proxy-Connection': 'keep-alive',
        'Proxy-Authorization': 'Basic cHJveHk6c2VjcmV0',
        TE: 'gzip',
        Trailer: 'X-Checksum',
        Upgrade: 'h2c',
        'X-End-To-End': 'yes',
        Authorization: 'Bearer upstream-token',
      },
    });
    expect(reply.status).toBe(200);
    const h = up.requests[0]!.headers;
    expect(h['x-secret']).toBeUndefined();
    expect(h['keep-alive']).toBeUndefined();
    expect(h['proxy-connection']).toBeUndefined();
    expect(h['proxy-authorization']).toBeUndefined();
    expect(h.te).toBeUndefined();
    expect(h.trailer).toBeUndefined();
    expect(h.upgrade).toBeUndefined();
    // Whatever Connection the upstream sees is the proxy's own, not the client's list.
    expect(String(h.connection ?? '')).not.toMatch(/x-secret/i);
    expect(h['x-end-to-end']).toBe('yes');
    expect(h.authorization).toBe('Bearer upstream-token');
    expect(up.requests[0]!.body.toString()).toBe('payload');
  });

  // One request per hop-by-hop name, each with a value no end-to-end header has. Not
  // Transfer-Encoding: it frames the message, so the proxy frames its own (the smuggling
  // tests cover what a client's Transfer-Encoding may not do).
  it.each<[string, OutgoingHttpHeaders]>([
    ['Connection (and the name it lists)', { Connection: 'keep-alive, X-Probe-Listed', 'X-Probe-Listed': 'probe' }],
    ['Keep-Alive', { 'Keep-Alive': 'timeout=5, probe=1' }],
    ['Proxy-Connection', { 'Proxy-Connection': 'probe' }],
    ['TE', { TE: 'probe' }],
    ['Trailer', { Trailer: 'X-Probe' }],
    ['Upgrade', { Upgrade: 'probe/1' }],
    ['Proxy-Authorization', { 'Proxy-Authorization': 'Basic probe' }],
    ['Proxy-Authenticate', { 'Proxy-Authenticate': 'Basic realm="probe"' }],
  ])('a request header %s does not reach the upstream', async (_name, headers) => {
    const up = await upstream();
    const { front } = await serve({ targets: up.url });
    const reply = await send(front.url, { method: 'POST', path: '/api/hop', headers, body: ['pay', 'load'] });
    expect(reply.status).toBe(200);
    const seen = up.requests[0]!;
    expect(seen.rawHeaders.join('\n')).not.toMatch(/probe/i);
    expect(seen.body.toString()).toBe('payload');
  });

  it('keeps TE: trailers', async () => {
    const up = await upstream();
    const { front } = await serve({ targets: up.url });
    await send(front.url, { path: '/api/te', headers: { TE: 'trailers' } });
    expect(up.requests[0]!.headers.te).toBe('trailers');
  });
});

describe('hop-by-hop headers on the response', () => {
  it('never reach the client; end-to-end headers do', async () => {
    const up = await upstream((_req, res) => {
      res.setHeader('Connection', 'X-Internal');
      res.setHeader('X-Internal', 'secret');
      res.setHeader('Keep-Alive', 'timeout=99, max=7');
      res.setHeader('Proxy-Authenticate', 'Basic realm="upstream"');
      res.setHeader('Trailer', 'X-Checksum');
      res.setHeader('Upgrade', 'h2c');
      res.setHeader('X-Public', 'visible');
      // No Content-Length: chunked, as a Trailer header requires.
      res.write('hel');
      res.end('lo');
    });
    const { front } = await serve({ targets: up.url });
    const reply = await send(front.url, { path: '/api/hop' });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('hello');
    const lower = rawNames(reply.rawHeaders).map((n) => n.toLowerCase());
    for (const name of ['x-internal', 'proxy-authenticate', 'trailer', 'upgrade']) {
      expect(lower).not.toContain(name);
    }
    // The proxy's server may announce its own Keep-Alive; the upstream's must not cross.
    expect(String(reply.headers['keep-alive'] ?? '')).not.toMatch(/99|max=7/);
    expect(String(reply.headers.connection ?? '')).not.toMatch(/x-internal/i);
    expect(reply.headers['x-public']).toBe('visible');
  });
});

describe('Alt-Svc on the response (issue 12)', () => {
  it('Alt-Svc removed from upstream responses; a responseHeaders rule can set the proxy\'s own', async () => {
    const up = await upstream((_req, res) => {
      res.setHeader('Alt-Svc', 'h3=":8443"; ma=86400');
      res.setHeader('X-Public', 'visible');
      res.end('ok');
    });
    const plain = await serve({ targets: up.url });
    const reply = await send(plain.front.url, { path: '/api/x' });
    expect(reply.status).toBe(200);
    expect(rawNames(reply.rawHeaders).map((n) => n.toLowerCase())).not.toContain('alt-svc');
    expect(reply.headers['x-public']).toBe('visible');

    const ruled = await serve({ targets: up.url, responseHeaders: { 'Alt-Svc': 'h3=":443"' } });
    const own = await send(ruled.front.url, { path: '/api/x' });
    expect(own.headers['alt-svc']).toBe('h3=":443"');
  });
});

describe('request bodies and framing', () => {
  it('forwards a chunked POST body intact, chunked, without Content-Length', async () => {
    const up = await upstream();
    const { front } = await serve({ targets: up.url });
    const parts = ['first-', 'second-', 'third'];
    const reply = await send(front.url, { method: 'POST', path: '/api/upload', body: parts });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body).bodyLength).toBe(parts.join('').length);
    const rec = up.requests[0]!;
    expect(rec.complete).toBe(true);
    expect(rec.body.toString()).toBe(parts.join(''));
    expect(rec.headers['transfer-encoding']).toBe('chunked');
    expect(rec.headers['content-length']).toBeUndefined();
  });

  it('forwards a chunked DELETE body intact (no Content-Length: 0)', async () => {
    const up = await upstream();
    const { front } = await serve({ targets: up.url });
    const parts = ['{"ids":', '[1,2,3]}'];
    const reply = await send(front.url, {
      method: 'DELETE',
      path: '/api/items',
      headers: { 'Transfer-Encoding': 'chunked', 'Content-Type': 'application/json' },
      body: parts,
    });
    expect(reply.status).toBe(200);
    const rec = up.requests[0]!;
    expect(rec.complete).toBe(true);
    expect(rec.body.toString()).toBe(parts.join(''));
    expect(rec.headers['content-length']).not.toBe('0');
    expect(JSON.parse(reply.body).bodyLength).toBe(parts.join('').length);
  });
});

describe('response headers: Set-Cookie and headers set earlier', () => {
  it('delivers every Set-Cookie header', async () => {
    const up = await upstream((_req, res) => {
      res.setHeader('Set-Cookie', ['a=1; Path=/', 'b=2; HttpOnly', 'c=3']);
      res.end('ok');
    });
    const { front } = await serve({ targets: up.url });
    const reply = await send(front.url, { path: '/api/c' });
    expect(reply.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; HttpOnly', 'c=3']);
  });

  it('replaces a header an earlier middleware set when the upstream sends it, keeps it otherwise', async () => {
    const up = await upstream((_req, res) => {
      res.setHeader('X-Powered-By', 'upstream-server');
      res.setHeader('Access-Control-Allow-Origin', 'https://app.example');
      res.end('ok');
    });
    const earlier: RequestHandler = (_req, res, next) => {
      res.setHeader('X-Powered-By', 'Express');
      res.setHeader('Access-Control-Allow-Origin', '*');
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      next();
    };
    const { front } = await serve({ targets: up.url }, [earlier]);
    const reply = await send(front.url, { path: '/api/cors' });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-powered-by']).toBe('upstream-server');
    expect(reply.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(reply.headers['access-control-allow-credentials']).toBe('true');
    const lower = rawNames(reply.rawHeaders).map((n) => n.toLowerCase());
    expect(lower.filter((n) => n === 'x-powered-by')).toHaveLength(1);
    expect(lower.filter((n) => n === 'access-control-allow-origin')).toHaveLength(1);
  });

  it("replaces Express's own X-Powered-By with the upstream's", async () => {
    const up = await upstream((_req, res) => {
      res.setHeader('X-Powered-By', 'upstream-server');
      res.end('ok');
    });
    const mw = proxyFor({ targets: up.url });
    const app = express(); // x-powered-by left enabled
    app.use('/api', mw);
    const front = track(await listen(app));
    const reply = await send(front.url, { path: '/api/p' });
    expect(reply.headers['x-powered-by']).toBe('upstream-server');
  });

  it('keeps the case of upstream header names (node:http rawHeaders)', async () => {
    const up = await upstream((_req, res) => {
      res.setHeader('X-MiXeD-CaSe', 'yes');
      res.end('ok');
    });
    const { front } = await serve({ targets: up.url });
    const reply = await send(front.url, { path: '/api/case' });
    expect(rawNames(reply.rawHeaders)).toContain('X-MiXeD-CaSe');
  });
});
