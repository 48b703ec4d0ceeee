/**
 * `rewriteLocation` and `rewriteCookies` (issue 13 item 2): redirects and cookies from a
 * target behind `app.use('/api', mw)` and a target path prefix reach the client as URLs and
 * cookies of the front end, and everything that does not point into the target is left alone.
 */
import express from 'express';
import https from 'node:https';
import { describe, expect, it } from 'vitest';
import { proxy, type ProxyConfig } from '../../src/index.js';
import { readReply, sendText, type TextReply } from '../helpers/client.js';
import { configErrorFrom } from '../helpers/config-error.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { generateCerts } from '../helpers/certs.js';
import { listen, serveOnLoopback, type Listening } from '../helpers/listen.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const { track, proxyFor } = useCleanup({ parallel: true });

/** An upstream answering 302 with the headers `headersFor(its own URL)` gives (flat name, value, …). */
async function upstreamWith(headersFor: (self: string) => string[]): Promise<Upstream> {
  let self = '';
  const up = track(
    await startUpstream((_req, res) => {
      res.writeHead(302, headersFor(self));
      res.end();
    }),
  );
  self = up.url;
  return up;
}

/** `app.use('/api', proxy(config))` with the upstream at `up.url + prefix`. */
async function mounted(up: Upstream, prefix: string, config: Omit<ProxyConfig, 'targets'> = {}): Promise<Listening> {
  const mw = proxyFor({ targets: up.url + prefix, ...config });
  return track(await listen(express().use('/api', mw)));
}

function all(reply: TextReply, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < reply.rawHeaders.length; i += 2) {
    if (reply.rawHeaders[i]?.toLowerCase() === name) out.push(reply.rawHeaders[i + 1] as string);
  }
  return out;
}

describe('rewriteLocation', () => {
  it('maps absolute and root-relative URLs into a target without a prefix under the mount path', async () => {
    const up = await upstreamWith((self) => [
      'Location', `${self}/login?next=%2Fhome#top`,
      'Content-Location', '/items/7',
      'Refresh', '5; url=/done',
    ]);
    const front = await mounted(up, '');
    const reply = await sendText(`${front.url}/api/start`);
    expect(reply.status).toBe(302);
    expect(up.requests[0]?.url).toBe('/start');
    expect(reply.headers.location).toBe(`${front.url}/api/login?next=%2Fhome#top`);
    expect(reply.headers['content-location']).toBe(`${front.url}/api/items/7`);
    expect(reply.headers.refresh).toBe(`5; url=${front.url}/api/done`);
  });

  it('replaces the target prefix with the mount path, whole segments only', async () => {
    const up = track(
      await startUpstream((req, res) => {
        const loc = new URL(req.url ?? '/', 'http://x').searchParams.get('to') ?? '';
        res.writeHead(302, { location: loc.replace('SELFPORT', String(up.port)).replace('SELF', `http://127.0.0.1:${up.port}`) });
        res.end();
      }),
    );
    const front = await mounted(up, '/v1/');
    const elsewhere = track(await startUpstream());
    const cases: Record<string, string> = {
      'SELF/v1/login': `${front.url}/api/login`,
      'SELF/v1': `${front.url}/api`,
      'http://127.0.0.1:80/v1/x': 'http://127.0.0.1:80/v1/x', // another port is another origin
      '/v1/users/3?x=1': `${front.url}/api/users/3?x=1`,
      '/v1?x=1': `${front.url}/api?x=1`,
      '/v10/x': '/v10/x',
      '/other': '/other',
      'SELF/other': 'SELF/other',
      'https://example.com/v1/x': 'https://example.com/v1/x',
      [`${elsewhere.url}/v1/x`]: `${elsewhere.url}/v1/x`,
      'relative/path': 'relative/path',
      '//example.com/v1/x': '//example.com/v1/x',
      '//127.0.0.1:SELFPORT/v1/y': `${front.url}/api/y`, // scheme-relative, on the target
    };
    for (const [from, to] of Object.entries(cases)) {
      const reply = await sendText(`${front.url}/api/r?to=${encodeURIComponent(from)}`);
      expect(reply.headers.location, from).toBe(to.replace('SELF', `http://127.0.0.1:${up.port}`));
    }
  });

  it('takes the whole mount path Express stripped: nested routers, route params, a request for the mount itself', async () => {
    const up = await upstreamWith(() => ['Location', '/v1/next']);
    const router = express.Router();
    router.use('/b/:id', proxyFor({ targets: `${up.url}/v1` }));
    const front = track(await listen(express().use('/a', router)));
    expect((await sendText(`${front.url}/a/b/7/x/y?q=1`)).headers.location).toBe(`${front.url}/a/b/7/next`);
    expect((await sendText(`${front.url}/a/b/7`)).headers.location).toBe(`${front.url}/a/b/7/next`);
    expect((await sendText(`${front.url}/a/b/7?q=1`)).headers.location).toBe(`${front.url}/a/b/7/next`);
    expect(up.requests.map((r) => r.url)).toEqual(['/v1/x/y?q=1', '/v1/', '/v1/?q=1']);
  });

  it('uses https when a trusted peer says X-Forwarded-Proto: https, and not when it is untrusted', async () => {
    const up = await upstreamWith(() => ['Location', '/v1/login']);
    const trusted = await mounted(up, '/v1', { trustProxy: ['127.0.0.1'] });
    const untrusted = await mounted(up, '/v1');
    const viaTrusted = await sendText(`${trusted.url}/api/a`, { headers: { 'x-forwarded-proto': 'https' } });
    const viaUntrusted = await sendText(`${untrusted.url}/api/a`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(viaTrusted.headers.location).toBe(`https://127.0.0.1:${trusted.port}/api/login`);
    expect(viaUntrusted.headers.location).toBe(`http://127.0.0.1:${untrusted.port}/api/login`);
  });

  it('uses https behind an HTTPS front end (the client connection is TLS)', async () => {
    const certs = await generateCerts();
    track({ close: () => certs.cleanup() });
    const up = await upstreamWith((self) => ['Location', `${self}/v1/login`]);
    const app = express().use('/api', proxyFor({ targets: `${up.url}/v1` }));
    const front = track(await serveOnLoopback(https.createServer(certs.server, app)));
    const reply = await new Promise<Awaited<ReturnType<typeof readReply>>>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port: front.port, path: '/api/a', ca: certs.ca, agent: false }, (res) => {
        readReply(res).then(resolve, reject);
      }).on('error', reject);
    });
    expect(reply.status).toBe(302);
    expect(reply.headers.location).toBe(`https://127.0.0.1:${front.port}/api/login`);
  });

  it('maps into the client Host without a mount path under bare node:http', async () => {
    const up = await upstreamWith((self) => ['Location', `${self}/v1/next`]);
    const front = track(await listen(proxyFor({ targets: `${up.url}/v1` })));
    const reply = await sendText(`${front.url}/a`, { headers: { host: 'shop.example' } });
    expect(reply.headers.location).toBe('http://shop.example/next');
  });

  it('leaves every URL alone with rewriteLocation: false', async () => {
    const up = await upstreamWith((self) => ['Location', `${self}/v1/login`, 'Refresh', '0;url=/v1/x']);
    const front = await mounted(up, '/v1', { rewriteLocation: false });
    const reply = await sendText(`${front.url}/api/a`);
    expect(reply.headers.location).toBe(`${up.url}/v1/login`);
    expect(reply.headers.refresh).toBe('0;url=/v1/x');
  });
});

describe('rewriteCookies', () => {
  const COOKIES = [
    'Set-Cookie', 'a=1; Domain=127.0.0.1; Path=/v1/app; HttpOnly',
    'Set-Cookie', 'b=2; path=/v1',
    'Set-Cookie', 'c=3; Domain=.other.example; Path=/elsewhere; Secure',
    'Set-Cookie', 'd=4',
  ];

  it('true drops the target host as Domain and maps a Path under the prefix under the mount path', async () => {
    const up = await upstreamWith(() => COOKIES);
    const front = await mounted(up, '/v1', { rewriteCookies: true });
    const reply = await sendText(`${front.url}/api/a`);
    expect(all(reply, 'set-cookie')).toEqual([
      'a=1; Path=/api/app; HttpOnly',
      'b=2; path=/api',
      'c=3; Domain=.other.example; Path=/elsewhere; Secure',
      'd=4',
    ]);
  });

  it('applies explicit maps, where * matches any value and an empty string removes the attribute', async () => {
    const up = await upstreamWith(() => COOKIES);
    const front = await mounted(up, '/v1', {
      rewriteCookies: { domain: { '127.0.0.1': 'shop.example', '*': '' }, path: { '/v1': '/', '*': '/api' } },
    });
    const reply = await sendText(`${front.url}/api/a`);
    expect(all(reply, 'set-cookie')).toEqual([
      'a=1; Domain=shop.example; Path=/api; HttpOnly',
      'b=2; path=/',
      'c=3; Path=/api; Secure',
      'd=4',
    ]);
  });

  it('is off by default: cookies pass as the upstream set them', async () => {
    const up = await upstreamWith(() => COOKIES);
    const front = await mounted(up, '/v1');
    const reply = await sendText(`${front.url}/api/a`);
    expect(all(reply, 'set-cookie')).toEqual(COOKIES.filter((_, i) => i % 2 === 1));
  });
});

describe('config', () => {
  it('names the option at fault, with an example', () => {
    const targets = 'http://127.0.0.1:3001';
    expect(configErrorFrom(() => proxy({ targets, rewriteLocation: 'yes' as never })).option).toBe('rewriteLocation');
    const bad = configErrorFrom(() => proxy({ targets, rewriteCookies: 'yes' as never }));
    expect(bad.option).toBe('rewriteCookies');
    expect(bad.example).toContain('rewriteCookies: {');
    expect(configErrorFrom(() => proxy({ targets, rewriteCookies: { domain: { x: 1 } } as never })).option).toBe("rewriteCookies.domain['x']");
    expect(configErrorFrom(() => proxy({ targets, rewriteCookies: { paths: {} } as never })).message).toContain('rewriteCookies.path');
  });
});
