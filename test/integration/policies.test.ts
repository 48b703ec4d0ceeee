/**
 * The least_conn, hash and cookie policies through real HTTP: which upstream answers, kept
 * per key across requests, and the sticky-session cookie as the client receives it.
 */
import { createHmac } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cookie, headerHash, ipHash, leastConn, uriHash, type ProxyConfig, type ProxyMiddleware } from '../../src/index.js';
import { generateCerts } from '../helpers/certs.js';
import { readReply, sendText, type TextReply } from '../helpers/client.js';
import { deadTargetUrl } from '../helpers/dead-target.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { listen, serveOnLoopback } from '../helpers/listen.js';
import { until } from '../helpers/poll.js';
import { closeAll, startUpstream, startUpstreams, type EchoResponse, type Upstream } from '../helpers/upstream.js';

const { track, proxyFor, keepAliveAgent } = useCleanup({ parallel: true });

type Reply = TextReply;

interface SendOptions {
  headers?: http.OutgoingHttpHeaders;
  /** Source address of the client connection (any 127.x.y.z is loopback on Linux). */
  localAddress?: string;
  agent?: http.Agent | false;
}

function send(url: string, opts: SendOptions = {}): Promise<Reply> {
  return sendText(url, opts);
}

type Get = (path?: string, opts?: SendOptions) => Promise<Reply>;

/** Serves `config` mounted at `/api` on Express. */
async function serve(config: ProxyConfig): Promise<{ mw: ProxyMiddleware; get: Get }> {
  const mw = proxyFor(config);
  const app = express();
  app.use('/api', mw);
  const server = track(await listen(app));
  const agent = keepAliveAgent();
  return { mw, get: (path = '/x', opts = {}) => send(`${server.url}/api${path}`, { agent, ...opts }) };
}

function nameOf(reply: Reply): string {
  expect(reply.status).toBe(200);
  return (JSON.parse(reply.body) as EchoResponse).name;
}

/** A request as the balancer sees it, to ask `mw.balancer` what it would choose. */
function fakeRequest(opts: { addr?: string; url?: string; headers?: Record<string, string> }): IncomingMessage {
  return { socket: { remoteAddress: opts.addr ?? '127.0.0.1' }, url: opts.url ?? '/', headers: opts.headers ?? {} } as unknown as IncomingMessage;
}

let ups: Upstream[];
/** The three echo upstreams as named targets: names (not random ports) are hashed, so runs repeat. */
let named: Array<{ url: string; name: string }>;
beforeAll(async () => {
  ups = await startUpstreams(3);
  named = ups.map((u) => ({ url: u.url, name: u.name }));
});
afterAll(async () => {
  await closeAll(ups);
});

describe('ip_hash', () => {
  // 127.0.0.0/8 is loopback on Linux: each address is a different client to the proxy.
  const clients = Array.from({ length: 12 }, (_, i) => `127.0.0.${i + 2}`);

  it('keeps each client address on one target, the one its address hashes to', async () => {
    const { mw, get } = await serve({ targets: named, balancer: 'ip_hash' });
    const seen = new Set<string>();
    for (const addr of clients) {
      const want = mw.balancer.next(fakeRequest({ addr }))?.name;
      for (let i = 0; i < 3; i++) {
        // A new connection per request: stickiness must not come from connection reuse.
        expect(nameOf(await get('/x', { localAddress: addr, agent: false })), addr).toBe(want);
      }
      seen.add(want as string);
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  it('ignores X-Forwarded-For sent by the client', async () => {
    const { mw, get } = await serve({ balancer: ipHash(named) });
    const want = mw.balancer.next(fakeRequest({ addr: '127.0.0.1' }))?.name;
    for (let i = 0; i < 10; i++) {
      const reply = await get('/x', { headers: { 'x-forwarded-for': `192.0.2.${i}` } });
      expect(nameOf(reply)).toBe(want);
    }
  });
});

describe('uri_hash', () => {
  const paths = Array.from({ length: 24 }, (_, i) => `/items/${i}?v=${i % 3}`);

  async function mapPaths(get: Get): Promise<string[]> {
    const out: string[] = [];
    for (const p of paths) out.push(nameOf(await get(p)));
    return out;
  }

  it('keeps each path and query on one target, keyed on the path after the mount point', async () => {
    const { mw, get } = await serve({ targets: named, balancer: 'uri_hash' });
    const first = await mapPaths(get);
    expect(await mapPaths(get)).toEqual(first);
    // `/api` is stripped by Express: the key is what req.url holds inside the middleware.
    expect(first).toEqual(paths.map((url) => mw.balancer.next(fakeRequest({ url }))?.name));
    expect(new Set(first).size).toBeGreaterThan(1);
  });

  it('removing a target at run time moves only the paths that were on it', async () => {
    const { mw, get } = await serve({ balancer: uriHash(named) });
    const before = await mapPaths(get);
    const victim = before[0] as string;
    expect(mw.balancer.remove(victim)).toBe(true);
    const after = await mapPaths(get);
    paths.forEach((p, i) => {
      if (before[i] === victim) expect(after[i], p).not.toBe(victim);
      else expect(after[i], p).toBe(before[i]);
    });
  });
});

describe('header hash', () => {
  it.each<[string, () => ProxyConfig]>([
    ["{ header: 'X-User' }", () => ({ targets: named, balancer: { header: 'X-User' } })],
    ["headerHash('x-user', …)", () => ({ balancer: headerHash('x-user', named) })],
  ])('%s keeps a header value on one target', async (_label, config) => {
    const { mw, get } = await serve(config());
    const seen = new Set<string>();
    for (let u = 0; u < 12; u++) {
      const headers = { 'X-User': `user-${u}` };
      const want = mw.balancer.next(fakeRequest({ headers: { 'x-user': `user-${u}` } }))?.name;
      for (let i = 0; i < 3; i++) expect(nameOf(await get('/x', { headers }))).toBe(want);
      seen.add(want as string);
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  it('falls back to round robin without the header', async () => {
    const { get } = await serve({ targets: named, balancer: { header: 'X-User' } });
    const out: string[] = [];
    for (let i = 0; i < 6; i++) out.push(nameOf(await get()));
    expect(out).toEqual(['u0', 'u1', 'u2', 'u0', 'u1', 'u2']);
  });
});

describe('cookie (sticky sessions)', () => {
  const SET_COOKIE = /^sid=([0-9a-f]{16}); Path=\/; HttpOnly; SameSite=Lax$/;

  /** The one Set-Cookie value of a reply, or undefined. */
  function setCookieOf(reply: Reply): string | undefined {
    const values = reply.headers['set-cookie'];
    if (values === undefined) return undefined;
    expect(values).toHaveLength(1);
    return values[0];
  }

  it('the first response sets the cookie; requests with it return to the same target', async () => {
    const { get } = await serve({ targets: named, balancer: { cookie: 'sid' } });
    const first = await get();
    const setCookie = setCookieOf(first) as string;
    expect(setCookie).toMatch(SET_COOKIE);
    // Opaque: nothing of the target's URL shows.
    for (const u of ups) expect(setCookie).not.toContain(String(u.port));
    const owner = nameOf(first);
    const jar = setCookie.split(';')[0] as string;
    for (let i = 0; i < 6; i++) {
      const reply = await get('/x', { headers: { cookie: `theme=dark; ${jar}` } });
      expect(nameOf(reply)).toBe(owner);
      // A valid cookie is not set again.
      expect(reply.headers['set-cookie']).toBeUndefined();
    }
  });

  it('without a cookie, requests are balanced round robin, each told its target', async () => {
    const { get } = await serve({ balancer: cookie('sid', named) });
    const cookies = new Map<string, string>();
    const order: string[] = [];
    for (let i = 0; i < 6; i++) {
      const reply = await get();
      const name = nameOf(reply);
      order.push(name);
      const value = setCookieOf(reply) as string;
      expect(value).toMatch(SET_COOKIE);
      // One id per target, always the same.
      expect(cookies.get(name) ?? value).toBe(value);
      cookies.set(name, value);
    }
    expect(order).toEqual(['u0', 'u1', 'u2', 'u0', 'u1', 'u2']);
    expect(new Set(cookies.values()).size).toBe(3);
  });

  it('after its target is removed, picks anew and sets a new cookie that sticks', async () => {
    const { mw, get } = await serve({ targets: named, balancer: { cookie: 'sid' } });
    const first = await get();
    const owner = nameOf(first);
    const oldJar = (setCookieOf(first) as string).split(';')[0] as string;
    expect(mw.balancer.remove(owner)).toBe(true);

    const moved = await get('/x', { headers: { cookie: oldJar } });
    const newOwner = nameOf(moved);
    expect(newOwner).not.toBe(owner);
    const newSetCookie = setCookieOf(moved) as string;
    expect(newSetCookie).toMatch(SET_COOKIE);
    const newJar = newSetCookie.split(';')[0] as string;
    expect(newJar).not.toBe(oldJar);
    for (let i = 0; i < 4; i++) {
      const reply = await get('/x', { headers: { cookie: newJar } });
      expect(nameOf(reply)).toBe(newOwner);
      expect(reply.headers['set-cookie']).toBeUndefined();
    }
  });

  it.each<[string, string]>([
    ['a forged value', 'sid=0123456789abcdef'],
    ['garbage', 'sid=../../etc/passwd'],
    ['an empty value', 'sid='],
    ["another cookie's name ending in sid", 'xsid=whatever'],
  ])('%s is treated as no cookie', async (_label, header) => {
    const { get } = await serve({ targets: named, balancer: { cookie: 'sid' } });
    const out: string[] = [];
    for (let i = 0; i < 3; i++) {
      const reply = await get('/x', { headers: { cookie: header } });
      out.push(nameOf(reply));
      expect(setCookieOf(reply)).toMatch(SET_COOKIE);
    }
    expect(out).toEqual(['u0', 'u1', 'u2']);
  });

  it('with a secret the id is the truncated HMAC-SHA256 of the target name', async () => {
    const { get } = await serve({ targets: named, balancer: { cookie: 'sid', secret: 'k3y' } });
    const reply = await get();
    const id = createHmac('sha256', 'k3y').update(nameOf(reply)).digest('hex').slice(0, 16);
    expect(setCookieOf(reply)).toBe(`sid=${id}; Path=/; HttpOnly; SameSite=Lax`);
  });

  it("keeps the upstream's own cookies next to the sticky one", async () => {
    const app = await startUpstream((_req, res) => {
      res.setHeader('set-cookie', ['app=1; Path=/', 'lang=en']);
      res.end('ok');
    }, { name: 'app' });
    track(app);
    const { get } = await serve({ targets: [app.url], balancer: { cookie: 'sid' } });
    const cookies = (await get()).headers['set-cookie'] ?? [];
    expect(cookies).toHaveLength(3);
    expect(cookies[0]).toMatch(SET_COOKIE);
    expect(cookies.slice(1)).toEqual(['app=1; Path=/', 'lang=en']);
  });

  it('after a retry, only the cookie of the target that answered is set', async () => {
    const dead = await deadTargetUrl();
    const { get } = await serve({
      targets: [{ url: dead, name: 'dead' }, named[1] as { url: string; name: string }],
      balancer: { cookie: 'sid', secret: 's' },
      retries: 1,
    });
    const reply = await get();
    expect(nameOf(reply)).toBe('u1');
    const id = createHmac('sha256', 's').update('u1').digest('hex').slice(0, 16);
    expect(reply.headers['set-cookie']).toEqual([`sid=${id}; Path=/; HttpOnly; SameSite=Lax`]);
  });

  describe('sticky cookie Secure when the client is on HTTPS (issue 12)', () => {
    const SECURE = /^sid=[0-9a-f]{16}; Path=\/; HttpOnly; SameSite=Lax; Secure$/;

    it('sticky cookie Secure when the client connection is TLS', async () => {
      const certs = await generateCerts();
      try {
        const mw = proxyFor({ targets: named, balancer: { cookie: 'sid' } });
        const app = express();
        app.use('/api', mw);
        const front = track(await serveOnLoopback(https.createServer(certs.server, app)));
        const reply = await new Promise<Reply>((resolve, reject) => {
          const req = https.get({ host: '127.0.0.1', port: front.port, path: '/api/x', ca: certs.ca, agent: false }, (res) => {
            readReply(res).then((r) => resolve({ ...r, body: r.body.toString() }), reject);
          });
          req.on('error', reject);
        });
        expect(reply.status).toBe(200);
        expect(setCookieOf(reply)).toMatch(SECURE);
      } finally {
        await certs.cleanup();
      }
    });

    it('sticky cookie Secure when a trusted X-Forwarded-Proto says https (first of a chain)', async () => {
      const { get } = await serve({ balancer: cookie('sid', named), trustProxy: ['127.0.0.1'] });
      for (const proto of ['https', 'HTTPS', 'https, http']) {
        expect(setCookieOf(await get('/x', { headers: { 'x-forwarded-proto': proto } })), proto).toMatch(SECURE);
      }
      for (const proto of ['http', 'http, https']) {
        expect(setCookieOf(await get('/x', { headers: { 'x-forwarded-proto': proto } })), proto).toMatch(SET_COOKIE);
      }
    });

    it('no Secure for X-Forwarded-Proto: https from a peer trustProxy does not trust', async () => {
      for (const trustProxy of [false, ['10.0.0.0/8'], () => false]) {
        const { get } = await serve({ targets: named, balancer: { cookie: 'sid' }, trustProxy });
        expect(setCookieOf(await get('/x', { headers: { 'x-forwarded-proto': 'https' } }))).toMatch(SET_COOKIE);
      }
    });
  });

  it('an error reply sets no cookie', async () => {
    const { get } = await serve({ targets: [await deadTargetUrl()], balancer: { cookie: 'sid' } });
    const reply = await get();
    expect(reply.status).toBe(502);
    expect(reply.headers['set-cookie']).toBeUndefined();
  });
});

describe('least_conn', () => {
  it('sends requests to the idle target while the other holds a slow request', async () => {
    const held: ServerResponse[] = [];
    const handler = (name: string) => (req: IncomingMessage, res: ServerResponse): void => {
      if (req.url === '/slow') {
        held.push(res);
        return;
      }
      res.end(JSON.stringify({ name }));
    };
    const slow = await Promise.all(['s0', 's1'].map((name) => startUpstream(handler(name), { name })));
    for (const up of slow) track(up);
    const { mw, get } = await serve({ balancer: leastConn(slow.map((u) => ({ url: u.url, name: u.name }))) });

    // Idle targets take turns: the slow request goes to s0, the first in the list.
    const slowReply = get('/slow');
    await until(() => held.length === 1);
    expect(slow[0]!.requests.map((r) => r.url)).toEqual(['/slow']);
    expect(mw.stats().map((s) => s.active)).toEqual([1, 0]);

    for (let i = 0; i < 5; i++) {
      // The previous reply counts as in flight until its body is written out.
      await until(() => mw.stats()[1]?.active === 0);
      expect(nameOf(await get('/fast'))).toBe('s1');
    }

    held[0]!.end(JSON.stringify({ name: 's0' }));
    expect(nameOf(await slowReply)).toBe('s0');
    await until(() => mw.stats().every((s) => s.active === 0));
    // Both idle again: they take turns.
    const next: string[] = [];
    for (let i = 0; i < 4; i++) {
      await until(() => mw.stats().every((s) => s.active === 0));
      next.push(nameOf(await get('/fast')));
    }
    expect(new Set(next)).toEqual(new Set(['s0', 's1']));
  });

  it("'least_conn' by name is the same policy", async () => {
    const { get } = await serve({ targets: named, balancer: 'least_conn' });
    const out: string[] = [];
    for (let i = 0; i < 6; i++) out.push(nameOf(await get()));
    // Sequential requests leave every target idle: least_conn rotates.
    expect(new Set(out)).toEqual(new Set(['u0', 'u1', 'u2']));
  });
});
