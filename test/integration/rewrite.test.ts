/**
 * Where a request goes, part two (API.md "Where a request goes"): `rewrite` glob rules,
 * `regexRewrite`, and the `to` URL template with its placeholders — what the upstream
 * actually receives, and that request data can never steer the path or inject anything.
 *
 * Requests are sent with node:http: superagent would parse and normalise the URL first.
 */
import express from 'express';
import { beforeEach, describe, expect, it } from 'vitest';
import { proxy } from '../../src/index.js';
import type { ProxyConfig } from '../../src/types.js';
import { rawRequest, type Listening } from '../helpers/listen.js';
import { BAD_REQUEST_JSON, sendPath as send, useRoutingSuite } from '../helpers/routing.js';
import type { Upstream } from '../helpers/upstream.js';

const routing = useRoutingSuite();
const { mw, serve, serveLenient, onlyUpstreamUrl, expectUpstreamUntouched } = routing;
let up: Upstream;
beforeEach(() => {
  up = routing.up;
});

/** A bare http server whose only handler is `proxy(config)`. */
async function serveBare(config: ProxyConfig): Promise<Listening> {
  const m = mw(config);
  return serve((req, res) => m(req, res));
}

/** Sends each [client path, expected upstream target] through `config` on a bare server. */
async function expectRoutes(config: ProxyConfig, cases: Array<[string, string]>): Promise<void> {
  const server = await serveBare(config);
  for (const [clientPath, expected] of cases) {
    const before = up.requests.length;
    const res = await send(server.port, clientPath);
    expect(res.status, clientPath).toBe(200);
    expect(up.requests.length, clientPath).toBe(before + 1);
    expect(up.requests[before]!.url, clientPath).toBe(expected);
  }
}

describe('rewrite: glob rules (Echo)', () => {
  it("'/v1/*': '/v2/$1' keeps the query", async () => {
    await expectRoutes({ targets: up.url, rewrite: { '/v1/*': '/v2/$1' } }, [
      ['/v1/users/42?x=1&y=%20', '/v2/users/42?x=1&y=%20'],
      ['/v1/', '/v2/'],
      ['/v1/a%2Fb?', '/v2/a%2Fb?'],
      ['/v2/untouched', '/v2/untouched'],
      ['/v1', '/v1'],
    ]);
  });

  it('several * capture $1…$n, * runs across /', async () => {
    await expectRoutes({ targets: up.url, rewrite: { '/u/*/posts/*': '/posts/$2/by/$1', '/x/*/*': '/$2-$1' } }, [
      ['/u/ann/posts/7?full=1', '/posts/7/by/ann?full=1'],
      ['/u/a/b/posts/c/d', '/posts/c/d/by/a/b'],
      ['/x/a/b', '/b-a'],
    ]);
  });

  it('a key matches the whole path', async () => {
    await expectRoutes({ targets: up.url, rewrite: { '/old': '/new' } }, [
      ['/old', '/new'],
      ['/old?q=1', '/new?q=1'],
      ['/old/x', '/old/x'],
      ['/older', '/older'],
      ['/x/old', '/x/old'],
    ]);
  });

  it('a leading ^ is accepted and ignored', async () => {
    await expectRoutes({ targets: up.url, rewrite: { '^/v1/*': '/v2/$1', '^/exact': '/e' } }, [
      ['/v1/a?z', '/v2/a?z'],
      ['/exact', '/e'],
      ['/exact/more', '/exact/more'],
      ['/pre/v1/a', '/pre/v1/a'],
    ]);
  });

  it('regex metacharacters in keys are literal', async () => {
    await expectRoutes(
      { targets: up.url, rewrite: { '/a.b': '/dot', '/f(x)+[y]/*': '/paren/$1', '/q?': '/question', '/p|q': '/pipe' } },
      [
        ['/a.b', '/dot'],
        ['/aXb', '/aXb'],
        ['/f(x)+[y]/z', '/paren/z'],
        ['/fxx/z', '/fxx/z'],
        ['/q', '/q'],
        ['/p', '/p'],
        ['/p|q', '/pipe'],
      ],
    );
  });

  it('rules are tried in insertion order and the first match wins', async () => {
    await expectRoutes({ targets: up.url, rewrite: { '/a/*': '/first/$1', '/a/b': '/second' } }, [['/a/b', '/first/b']]);
    await expectRoutes({ targets: up.url, rewrite: { '/a/b': '/second', '/a/*': '/first/$1' } }, [
      ['/a/b', '/second'],
      ['/a/c', '/first/c'],
    ]);
  });

  it('rules see the mount-relative path and the result is joined to the target prefix', async () => {
    const app = express();
    app.use('/api', mw({ targets: `${up.url}/base/`, rewrite: { '/v1/*': '/v2/$1' } }));
    const server = await serve(app);
    const res = await send(server.port, '/api/v1/users?x=1');
    expect(res.status).toBe(200);
    expect(onlyUpstreamUrl()).toBe('/base/v2/users?x=1');
  });

  it('rules see the path after dot segments are resolved', async () => {
    await expectRoutes({ targets: up.url, rewrite: { '/v1/*': '/v2/$1' } }, [
      ['/x/../v1/a', '/v2/a'],
      ['/v1/%2e%2e/v1/b', '/v2/b'],
    ]);
  });

  it('a rule whose value carries a query puts it before the request query', async () => {
    await expectRoutes({ targets: up.url, rewrite: { '/search': '/find?src=rw' } }, [
      ['/search?q=1', '/find?src=rw&q=1'],
      ['/search', '/find?src=rw'],
    ]);
  });

  it.each([
    [{ '/x*': '/$1' }, '/x..'],
    [{ '/x*': '/$1' }, '/x../etc?q=1'],
    [{ '/x/*': '/$1/../..' }, '/x/a'],
  ])('a rewrite climbing above the prefix (%j on %s) → 400, upstream never contacted', async (rule, clientPath) => {
    const server = await serveBare({ targets: `${up.url}/pre`, rewrite: rule });
    const res = await send(server.port, clientPath, { accept: 'application/json' });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toEqual(BAD_REQUEST_JSON);
    expectUpstreamUntouched();
  });

  it('a rewrite forming dot segments that stay inside the prefix is resolved', async () => {
    await expectRoutes({ targets: `${up.url}/pre`, rewrite: { '/x*': '/a/$1' } }, [['/x..', '/pre/']]);
  });
});

describe('regexRewrite', () => {
  it('captures $1…$n, keeps the query, and runs after glob rules', async () => {
    await expectRoutes(
      {
        targets: up.url,
        rewrite: { '/g/*': '/glob/$1' },
        regexRewrite: [
          [/^\/g\/(.*)$/, '/regex/$1'],
          [/^\/r\/(\w+)\/(\d+)$/, '/r2/$2/$1'],
          [/^\/r\/.*$/, '/never'],
        ],
      },
      [
        ['/g/x?a=1', '/glob/x?a=1'],
        ['/r/ab/12?z=%2F', '/r2/12/ab?z=%2F'],
        ['/r/ab/cd', '/never'],
        ['/other', '/other'],
      ],
    );
  });

  it('the first matching regex rule wins', async () => {
    await expectRoutes(
      { targets: up.url, regexRewrite: [[/^\/a(.*)/, '/one$1'], [/^\/a(.*)/, '/two$1']] },
      [['/a/b', '/one/b']],
    );
  });

  it('a regex rule replaces only the matched part', async () => {
    await expectRoutes({ targets: up.url, regexRewrite: [[/\/old\//, '/new/']] }, [['/x/old/y?q', '/x/new/y?q']]);
  });

  it('a global regex gives the same answer every time (no lastIndex carried between requests)', async () => {
    await expectRoutes({ targets: up.url, regexRewrite: [[/^\/v1\/(.*)$/g, '/v2/$1']] }, [
      ['/v1/a', '/v2/a'],
      ['/v1/a', '/v2/a'],
      ['/v1/b', '/v2/b'],
    ]);
  });

  it("an empty path is forwarded, not refused: [/^\\/api/, ''] sends /api as / (issue 12)", async () => {
    await expectRoutes({ targets: up.url, regexRewrite: [[/^\/api/, '']] }, [
      ['/api', '/'],
      ['/api?q=1', '/?q=1'],
      ['/api/users', '/users'],
    ]);
  });

  it("an empty path is forwarded as / after the target prefix: [/^\\/api/, ''] under /base", async () => {
    await expectRoutes({ targets: `${up.url}/base`, regexRewrite: [[/^\/api/, '']] }, [
      ['/api', '/base/'],
      ['/api?q=1', '/base/?q=1'],
    ]);
  });

  it('a regex rewrite climbing above the prefix → 400, upstream never contacted', async () => {
    const server = await serveBare({ targets: `${up.url}/pre`, regexRewrite: [[/^\/up\/(.*)$/, '/../$1']] });
    const res = await send(server.port, '/up/secret');
    expect(res.status).toBe(400);
    expectUpstreamUntouched();
  });
});

describe('to: URL templates', () => {
  it("'/v2{path}{query}' with targets (joined to the target prefix)", async () => {
    await expectRoutes({ targets: up.url, to: '/v2{path}{query}' }, [
      ['/users?x=1', '/v2/users?x=1'],
      ['/users', '/v2/users'],
      ['/', '/v2/'],
      ['/a%2Fb/c%20d?q=%20&r=+', '/v2/a%2Fb/c%20d?q=%20&r=+'],
    ]);
    up.requests.length = 0;
    await expectRoutes({ targets: `${up.url}/base`, to: '/v2{path}{query}' }, [['/users?x=1', '/base/v2/users?x=1']]);
  });

  it('a template without {query} drops the query; one with a literal query keeps it', async () => {
    await expectRoutes({ targets: up.url, to: '/v2{path}' }, [['/users?x=1', '/v2/users']]);
    up.requests.length = 0;
    await expectRoutes({ targets: up.url, to: '/search?q={param.none}&from={path}' }, [['/x', '/search?q=&from=/x']]);
  });

  it('{path} is the path after rewrite', async () => {
    await expectRoutes({ targets: up.url, rewrite: { '/v1/*': '/$1' }, to: '/v2{path}{query}' }, [
      ['/v1/users?x=1', '/v2/users?x=1'],
    ]);
  });

  it("'http://127.0.0.1:PORT/v2{path}{query}' without targets: the origin becomes the target", async () => {
    const m = mw({ to: `${up.url}/v2{path}{query}` });
    expect(m.balancer.targets.map((t) => t.url.origin)).toEqual([up.url]);
    const app = express();
    app.use('/api', m);
    const server = await serve(app);
    const res = await send(server.port, '/api/users?x=1');
    expect(res.status).toBe(200);
    expect(onlyUpstreamUrl()).toBe('/v2/users?x=1');
    // Host is the template origin's host, not the client's.
    expect(up.requests[0]!.headers.host).toBe(`127.0.0.1:${up.port}`);
  });

  it('an absolute template with the same origin as the targets is accepted', async () => {
    await expectRoutes({ targets: [up.url], to: `${up.url}{path}/x{query}` }, [['/a?b', '/a/x?b']]);
  });

  it('renders {method}, {host}, {scheme}, {addr} and {header.X-Tenant}', async () => {
    const server = await serveBare({
      targets: up.url,
      to: '/m/{method}/h/{host}/s/{scheme}/a/{addr}/t/{header.X-Tenant}{path}{query}',
    });
    const res = await send(server.port, '/users?x=1', { host: 'shop.example:8080', 'x-tenant': 'acme' }, 'POST');
    expect(res.status).toBe(200);
    expect(onlyUpstreamUrl()).toBe('/m/POST/h/shop.example%3A8080/s/http/a/127.0.0.1/t/acme/users?x=1');
    expect(up.requests[0]!.method).toBe('POST');
  });

  it('an absent header renders as empty', async () => {
    await expectRoutes({ targets: up.url, to: '/t/{header.x-tenant}/x{path}' }, [['/a', '/t//x/a']]);
  });

  it('renders {param.id} on a route (decoded by Express, encoded again as one segment)', async () => {
    const app = express();
    app.get('/items/:id', mw({ targets: up.url, to: '/v2/items/{param.id}/detail{query}' }));
    const server = await serve(app);
    for (const [clientPath, expected] of [
      ['/items/42?x=1', '/v2/items/42/detail?x=1'],
      ['/items/a%20b', '/v2/items/a%20b/detail'],
      ['/items/a%2Fb', '/v2/items/a%2Fb/detail'],
      ['/items/%3F%23%26', '/v2/items/%3F%23%26/detail'],
    ] as const) {
      const before = up.requests.length;
      const res = await send(server.port, clientPath);
      expect(res.status, clientPath).toBe(200);
      expect(up.requests[before]!.url, clientPath).toBe(expected);
    }
  });

  it('a header value with "/" stays inside one segment', async () => {
    const server = await serveBare({ targets: up.url, to: '/t/{header.x-tenant}/data{path}' });
    const res = await send(server.port, '/a', { 'x-tenant': 'acme/admin?x=1#f' });
    expect(res.status).toBe(200);
    expect(onlyUpstreamUrl()).toBe('/t/acme%2Fadmin%3Fx%3D1%23f/data/a');
  });

  it.each(['../admin', '../../../etc/passwd', 'x/../../admin', '..\\admin'])(
    'a header value %j cannot climb: 400, upstream never contacted',
    async (value) => {
      const server = await serveBare({ targets: up.url, to: '/t/{header.x-tenant}/data{path}' });
      const res = await send(server.port, '/a', { 'x-tenant': value, accept: 'application/json' });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text)).toEqual(BAD_REQUEST_JSON);
      expectUpstreamUntouched();
    },
  );

  it.each(['..', '.'])(
    'a header value %j filling a whole segment cannot move the template\'s segments: 400',
    async (value) => {
      const server = await serveBare({ targets: up.url, to: '/v2/{header.x-tenant}{path}' });
      const res = await send(server.port, '/admin', { 'x-tenant': value, accept: 'application/json' });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text)).toEqual(BAD_REQUEST_JSON);
      expectUpstreamUntouched();
    },
  );

  it('a route param of ".." (sent as %2e%2e, decoded by Express) cannot move the template\'s segments: 400', async () => {
    const app = express();
    app.get('/items/:id', mw({ targets: up.url, to: '/v2/items/{param.id}/detail' }));
    const server = await serve(app);
    const res = await send(server.port, '/items/%2e%2e');
    expect(res.status).toBe(400);
    expectUpstreamUntouched();
  });

  it.each([
    ['%2e%2e', '/v2/%252e%252e/admin'],
    ['.%2E', '/v2/.%252E/admin'],
    ['...', '/v2/.../admin'],
    ['..a', '/v2/..a/admin'],
  ])('a header value %j is data, not a dot segment: forwarded as %s', async (value, expected) => {
    const server = await serveBare({ targets: up.url, to: '/v2/{header.x-tenant}{path}' });
    const res = await send(server.port, '/admin', { 'x-tenant': value });
    expect(res.status).toBe(200);
    expect(onlyUpstreamUrl()).toBe(expected);
  });

  it('a header value with CR LF cannot inject a header or a request line', async () => {
    const app = express();
    // Node's parser never lets CR LF into a header value: an app middleware can.
    app.use((req, _res, next) => {
      req.headers['x-tenant'] = 'a\r\nX-Injected: 1\r\n\r\nGET /evil HTTP/1.1';
      next();
    });
    // The header itself is removed: Node would refuse to send its value at all.
    app.use(mw({ targets: up.url, to: '/t/{header.x-tenant}{path}', headers: { 'x-tenant': null } }));
    const server = await serve(app);
    const res = await send(server.port, '/a');
    expect(res.status).toBe(200);
    expect(onlyUpstreamUrl()).toBe('/t/a%0D%0AX-Injected%3A%201%0D%0A%0D%0AGET%20%2Fevil%20HTTP%2F1.1/a');
    expect(up.requests[0]!.headers['x-injected']).toBeUndefined();
  });

  it('control bytes and obs-fold in a header value (lenient parser) are encoded', async () => {
    const m = mw({ targets: up.url, to: '/t/{header.x-tenant}{path}', headers: { 'x-tenant': null } });
    const { port } = await serveLenient((req, res) => m(req, res));
    const reply = await rawRequest(port, 'GET /a HTTP/1.1\r\nHost: x\r\nX-Tenant: a\x01b\x7f\r\nConnection: close\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(onlyUpstreamUrl()).toBe('/t/a%01b%7F/a');
    const folded = await rawRequest(port, 'GET /b HTTP/1.1\r\nHost: x\r\nX-Tenant: a\r\n b\r\nConnection: close\r\n\r\n');
    expect(folded).toMatch(/^HTTP\/1\.1 200 /);
    expect(up.requests[1]!.url).toBe('/t/a%20b/b');
  });

  it('{host} from a hostile Host header stays one encoded segment', async () => {
    const server = await serveBare({ targets: up.url, to: '/h/{host}{path}' });
    const res = await send(server.port, '/a', { host: 'evil.example/x?y' });
    expect(res.status).toBe(200);
    expect(onlyUpstreamUrl()).toBe('/h/evil.example%2Fx%3Fy/a');
  });
});

describe('to: rejected when proxy() is called', () => {
  it.each([
    'http://{header.host}/x{path}',
    'http://127.0.0.1:{param.port}/x',
    '{scheme}://127.0.0.1/x',
    'http://127.0.0.1{host}/x',
    'http://{addr}:3000{path}',
  ])('a placeholder in scheme, host or port: %s', (to) => {
    expect(() => proxy({ to })).toThrow(/^switchyard: to .*(scheme|host|port)/);
  });

  it('an origin that differs from a target origin throws naming to', () => {
    expect(() => proxy({ targets: up.url, to: 'http://127.0.0.2:1/v2{path}' })).toThrow(/^switchyard: to /);
    expect(() => proxy({ targets: [up.url, 'http://127.0.0.1:1'], to: `${up.url}/v2{path}` })).toThrow(/^switchyard: to /);
    expect(() => proxy({ targets: up.url, to: `https://127.0.0.1:${up.port}/v2{path}` })).toThrow(/^switchyard: to /);
  });

  it('an unknown placeholder throws naming to', () => {
    expect(() => proxy({ targets: up.url, to: '/v2{pth}' })).toThrow(/^switchyard: to .*\{pth\}/);
  });
});
