/**
 * Where a request goes (API.md "Where a request goes"): the mount-relative path joined to the
 * target's prefix, the query byte for byte, encoded characters untouched, path safety (400
 * BAD_REQUEST before any upstream is contacted), and `skip` / `except`.
 *
 * Requests are sent with node:http (or raw over node:net) rather than supertest: superagent
 * parses the URL, which would resolve dot segments and re-encode bytes before they leave.
 */
import express from 'express';
import { beforeEach, describe, expect, it } from 'vitest';
import type { ProxyMiddleware } from '../../src/types.js';
import { rawRequest, type Listening } from '../helpers/listen.js';
import { mount, mountModes, NEXT_CALLED_BODY, NEXT_ERROR_PREFIX } from '../helpers/mount-matrix.js';
import { BAD_REQUEST_JSON, sendPath as send, useRoutingSuite } from '../helpers/routing.js';
import type { Upstream } from '../helpers/upstream.js';

const routing = useRoutingSuite();
const { mw, serve, serveLenient, onlyUpstreamUrl, expectUpstreamUntouched } = routing;
let up: Upstream;
beforeEach(() => {
  up = routing.up;
});

/** `app.use(mountPath, mw)` in Express with the matrix's 404 `next-called` after it. */
async function serveExpress(mountPath: string | undefined, m: ProxyMiddleware): Promise<Listening> {
  const app = express();
  if (mountPath === undefined) app.use(m);
  else app.use(mountPath, m);
  app.use((_req, res) => {
    res.status(404).type('text/plain').send(NEXT_CALLED_BODY);
  });
  return serve(app);
}

describe('mount-relative forwarding joined to the target prefix', () => {
  it.each([
    // [target path, client path, upstream receives]
    ['', '/api/users?x=1', '/users?x=1'],
    ['', '/api/users/', '/users/'],
    ['', '/api', '/'],
    ['', '/api/', '/'],
    ['', '/api?x=1', '/?x=1'],
    ['/', '/api/users?x=1', '/users?x=1'],
    ['/api', '/api/users?x=1', '/api/users?x=1'],
    ['/api/', '/api/users?x=1', '/api/users?x=1'],
    ['/api', '/api/users/', '/api/users/'],
    ['/api', '/api', '/api/'],
    ['/api/', '/api', '/api/'],
    ['/api', '/api/', '/api/'],
    ['/api/', '/api/', '/api/'],
    ['/api', '/api?x=1', '/api/?x=1'],
    ['/v1/base', '/api/users?x=1', '/v1/base/users?x=1'],
  ])("app.use('/api', proxy({ targets: up + %j })): %s → %s", async (targetPath, clientPath, expected) => {
    const server = await serveExpress('/api', mw({ targets: up.url + targetPath }));
    const res = await send(server.port, clientPath);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).url).toBe(expected);
    expect(onlyUpstreamUrl()).toBe(expected);
  });

  it('does not take /apix for the /api mount (Express matches whole segments)', async () => {
    const server = await serveExpress('/api', mw({ targets: up.url }));
    const res = await send(server.port, '/apix/users');
    expect(res.status).toBe(404);
    expect(res.text).toBe(NEXT_CALLED_BODY);
    expectUpstreamUntouched();
  });

  it.each([
    ['/users?x=1', '/api/users?x=1'],
    ['/', '/api/'],
    ['/?x=1', '/api/?x=1'],
    ['/p?', '/api/p?'],
  ])('bare http handler with target prefix /api: %s → %s', async (clientPath, expected) => {
    const m = mw({ targets: `${up.url}/api` });
    const server = await serve((req, res) => m(req, res));
    const res = await send(server.port, clientPath);
    expect(res.status).toBe(200);
    expect(onlyUpstreamUrl()).toBe(expected);
  });

  it('on a route the full path is kept and joined to the target prefix', async () => {
    const app = express();
    app.get('/items/:id', mw({ targets: `${up.url}/base/` }));
    const server = await serve(app);
    const res = await send(server.port, '/items/7?x=1');
    expect(res.status).toBe(200);
    expect(onlyUpstreamUrl()).toBe('/base/items/7?x=1');
  });

  describe.each(mountModes)('mounted as %s with target prefix /base', (mode) => {
    it.each(['/users?x=1', '/a/b/', '/a%2Fb/c%20d?q=%2F'])('forwards %s under /base', async (rest) => {
      const m = mount(mode, mw({ targets: `${up.url}/base` }));
      const server = await serve(m.handler);
      const clientPath = m.clientPath(rest);
      const res = await send(server.port, clientPath);
      expect(res.status).toBe(200);
      expect(onlyUpstreamUrl()).toBe(`/base${m.expectedUpstreamPath(clientPath)}`);
    });
  });
});

describe('query and encoding kept byte for byte', () => {
  it.each([
    ["/api/p?a=%20&b=+&c='&d=%2F&&e", "/p?a=%20&b=+&c='&d=%2F&&e"],
    ['/api/p?', '/p?'],
    ['/api?', '/?'],
    ['/api/p??a=1?b', '/p??a=1?b'],
    ['/api/p?a=%2e%2e/../x', '/p?a=%2e%2e/../x'],
    ['/api/p?%E2%82%AC=%e2%82%ac&x=%zz', '/p?%E2%82%AC=%e2%82%ac&x=%zz'],
    ['/api/p?a=b;c=d,e:f@g!$()*', '/p?a=b;c=d,e:f@g!$()*'],
  ])('%s → %s', async (clientPath, expected) => {
    const server = await serveExpress('/api', mw({ targets: up.url }));
    const res = await send(server.port, clientPath);
    expect(res.status).toBe(200);
    expect(onlyUpstreamUrl()).toBe(expected);
  });

  it.each([
    ['/api/a%2Fb/c%20d', '/a%2Fb/c%20d'],
    ['/api/a%2fb', '/a%2fb'],
    ['/api/%252F/%2520', '/%252F/%2520'],
    ['/api/%E2%82%AC/%e2%82%ac', '/%E2%82%AC/%e2%82%ac'],
    ['/api/a+b/c;d=1/e:f@g', '/a+b/c;d=1/e:f@g'],
    ['/api/%41%7e', '/%41%7e'],
    ['/api/a%2Fb?x=%2F', '/a%2Fb?x=%2F'],
    ['/api//double//slash', '//double//slash'],
  ])('path %s reaches the upstream as %s (neither decoded nor double-encoded)', async (clientPath, expected) => {
    const server = await serveExpress('/api', mw({ targets: up.url }));
    const res = await send(server.port, clientPath);
    expect(res.status).toBe(200);
    expect(onlyUpstreamUrl()).toBe(expected);
  });

  it('keeps %2F and %20 under a target prefix too', async () => {
    const server = await serveExpress('/api', mw({ targets: `${up.url}/pre/` }));
    await send(server.port, '/api/a%2Fb/c%20d?q=%2F%20');
    expect(onlyUpstreamUrl()).toBe('/pre/a%2Fb/c%20d?q=%2F%20');
  });
});

describe('path safety: dot segments resolved before forwarding', () => {
  it.each([
    ['/a/../b', '/b'],
    ['/a/%2e%2e/b', '/b'],
    ['/a/%2E%2e/b', '/b'],
    ['/a/.%2e/b', '/b'],
    ['/./x', '/x'],
    ['/%2e/x', '/x'],
    ['/a/b/..', '/a/'],
    ['/a/./b/./c?q=/../x', '/a/b/c?q=/../x'],
    ['/a/b/../../c%2Fd', '/c%2Fd'],
  ])('bare http: %s is forwarded as %s', async (clientPath, expected) => {
    const m = mw({ targets: up.url });
    const server = await serve((req, res) => m(req, res));
    const res = await send(server.port, clientPath);
    expect(res.status).toBe(200);
    expect(onlyUpstreamUrl()).toBe(expected);
  });

  it.each([
    ['/api/a/../b', '/pre/b'],
    ['/api/a/%2e%2e/b', '/pre/b'],
    ['/api/./x', '/pre/x'],
    ['/api/a/..', '/pre/'],
  ])('express mount with target prefix /pre: %s → %s', async (clientPath, expected) => {
    const server = await serveExpress('/api', mw({ targets: `${up.url}/pre` }));
    const res = await send(server.port, clientPath);
    expect(res.status).toBe(200);
    expect(onlyUpstreamUrl()).toBe(expected);
  });

  const climbing = [
    '/..',
    '/../',
    '/%2e%2e/secret',
    '/%2E%2E/secret',
    '/.%2e/secret',
    '/a/../../x',
    '/a/%2e%2e/%2e%2e/x',
    '/./../x',
    '/a/..%2F..%2Fx',
    '/..%5c..%5cx',
  ];

  it.each(climbing)('bare http: %s → 400 BAD_REQUEST (JSON), upstream never contacted', async (clientPath) => {
    const m = mw({ targets: `${up.url}/pre` });
    const server = await serve((req, res) => m(req, res));
    const res = await send(server.port, clientPath, { accept: 'application/json' });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(res.text)).toEqual(BAD_REQUEST_JSON);
    expectUpstreamUntouched();
  });

  it.each(climbing)('express mount /api: /api%s → 400, upstream never contacted', async (rest) => {
    const server = await serveExpress('/api', mw({ targets: `${up.url}/api` }));
    const res = await send(server.port, `/api${rest}`, { accept: 'application/json' });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toEqual(BAD_REQUEST_JSON);
    expectUpstreamUntouched();
  });

  it('answers the 400 as plain text when the client does not ask for JSON, echoing nothing', async () => {
    const server = await serveExpress('/api', mw({ targets: up.url }));
    const res = await send(server.port, '/api/%2e%2e/secret-token', { accept: 'text/html,*/*' });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toBe('Bad Request');
    expectUpstreamUntouched();
  });

  it('calls a custom errorHandler with a BAD_REQUEST ProxyError and no target', async () => {
    const seen: Array<{ code: string; status: number; attempts: number; target: unknown }> = [];
    const m = mw({
      targets: up.url,
      errorHandler: (err, _req, res) => {
        seen.push({ code: err.code, status: err.status, attempts: err.attempts, target: err.target });
        res.statusCode = err.status;
        res.end('custom');
      },
    });
    const server = await serve((req, res) => m(req, res));
    const res = await send(server.port, '/a/../../x');
    expect(res.status).toBe(400);
    expect(res.text).toBe('custom');
    expect(seen).toEqual([{ code: 'BAD_REQUEST', status: 400, attempts: 0, target: undefined }]);
    expectUpstreamUntouched();
  });
});

describe('an empty path or a fragment in req.url (issue 12)', () => {
  it.each([
    ['', '/?foo=bar'],
    ['/base', '/base/?foo=bar'],
  ])("an empty path is forwarded, not refused: req.url = '?foo=bar' set by an outer handler, target prefix %j → %s", async (targetPath, expected) => {
    const m = mw({ targets: up.url + targetPath });
    const server = await serve((req, res) => {
      req.url = '?foo=bar';
      m(req, res);
    });
    const res = await send(server.port, '/anything');
    expect(res.status).toBe(200);
    expect(onlyUpstreamUrl()).toBe(expected);
  });

  it.each([
    ['/a?q=1#frag', '/a?q=1'],
    ['/a#frag', '/a'],
    ['/a?#', '/a?'],
  ])('fragments are never forwarded: %s over node:net reaches the upstream as %s', async (target, expected) => {
    const m = mw({ targets: up.url });
    const server = await serve((req, res) => m(req, res));
    const reply = await rawRequest(server.port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(reply).toMatch(/^HTTP\/1\.1 200 /);
    expect(onlyUpstreamUrl()).toBe(expected);
  });
});

describe('path safety: request targets not in origin form', () => {
  const ABSOLUTE = 'GET http://other/ HTTP/1.1\r\nHost: other\r\nAccept: application/json\r\nConnection: close\r\n\r\n';

  function statusOf(reply: string): string {
    return reply.split('\r\n')[0] ?? '';
  }

  function bodyOf(reply: string): string {
    return reply.slice(reply.indexOf('\r\n\r\n') + 4);
  }

  it('absolute form to a bare http handler → 400 BAD_REQUEST, upstream never contacted', async () => {
    const m = mw({ targets: up.url });
    const server = await serve((req, res) => m(req, res));
    const reply = await rawRequest(server.port, ABSOLUTE);
    expect(statusOf(reply)).toBe('HTTP/1.1 400 Bad Request');
    expect(JSON.parse(bodyOf(reply))).toEqual(BAD_REQUEST_JSON);
    expectUpstreamUntouched();
  });

  it('absolute form naming the upstream itself to a root-mounted Express app → 400', async () => {
    const server = await serveExpress(undefined, mw({ targets: up.url }));
    const reply = await rawRequest(
      server.port,
      `GET ${up.url}/x HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`,
    );
    expect(statusOf(reply)).toBe('HTTP/1.1 400 Bad Request');
    expect(JSON.parse(bodyOf(reply))).toEqual(BAD_REQUEST_JSON);
    expectUpstreamUntouched();
  });

  it('absolute form through an Express /api mount (Express keeps the scheme and host in req.url) → 400', async () => {
    const server = await serveExpress('/api', mw({ targets: up.url }));
    const reply = await rawRequest(
      server.port,
      'GET http://other/api/users HTTP/1.1\r\nHost: other\r\nAccept: application/json\r\nConnection: close\r\n\r\n',
    );
    expect(statusOf(reply)).toBe('HTTP/1.1 400 Bad Request');
    expect(JSON.parse(bodyOf(reply))).toEqual(BAD_REQUEST_JSON);
    expectUpstreamUntouched();
  });

  it('the asterisk form (OPTIONS *) → 400, upstream never contacted', async () => {
    const m = mw({ targets: up.url });
    const server = await serve((req, res) => m(req, res));
    const reply = await rawRequest(server.port, 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(statusOf(reply)).toBe('HTTP/1.1 400 Bad Request');
    expect(bodyOf(reply)).toBe('Bad Request');
    expectUpstreamUntouched();
  });

  it('authority form with GET is refused (by Node itself) and never reaches an upstream', async () => {
    const m = mw({ targets: up.url });
    const server = await serve((req, res) => m(req, res));
    const reply = await rawRequest(server.port, `GET 127.0.0.1:${up.port} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(statusOf(reply)).toMatch(/^HTTP\/1\.1 400 /);
    expectUpstreamUntouched();
  });

  it('CONNECT (authority form) never reaches an upstream', async () => {
    const m = mw({ targets: up.url });
    const server = await serve((req, res) => m(req, res));
    const reply = await rawRequest(server.port, `CONNECT 127.0.0.1:${up.port} HTTP/1.1\r\nHost: 127.0.0.1:${up.port}\r\n\r\n`);
    expect(reply).not.toMatch(/^HTTP\/1\.1 2/);
    expectUpstreamUntouched();
  });
});

describe('path safety: control characters', () => {
  // Node's HTTP parser rejects every raw control byte in the request target itself, even with
  // insecureHTTPParser: the request never reaches the middleware.
  it.each(['\x00', '\x01', '\x09', '\x0b', '\x1b', '\x7f'])(
    'raw byte %j in the path over node:net: refused, upstream never contacted',
    async (byte) => {
      const m = mw({ targets: up.url });
      const server = await serve((req, res) => m(req, res));
      const reply = await rawRequest(server.port, `GET /a${byte}b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(reply).toMatch(/^HTTP\/1\.1 400 /);
      expectUpstreamUntouched();
    },
  );

  it('raw control bytes refused with a lenient parser as well (insecureHTTPParser)', async () => {
    const m = mw({ targets: up.url });
    const { port } = await serveLenient((req, res) => m(req, res));
    for (const byte of ['\x01', '\x7f', '\x1f']) {
      const reply = await rawRequest(port, `GET /a${byte}b?q=${byte} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    }
    expectUpstreamUntouched();
  });

  // An app that decodes req.url before the proxy (a real pattern) is how control characters
  // reach the middleware: the middleware itself must answer 400.
  it.each([
    ['/a%01b', 'path'],
    ['/a%00b', 'path'],
    ['/a%7Fb', 'path'],
    ['/a%0D%0AX-Injected:%201', 'path'],
    ['/a%09b', 'path'],
    ['/a%20b', 'path (raw space)'],
    ['/a?q=%01', 'query'],
    ['/a?q=%0D%0AX-Injected:%201', 'query'],
  ])('decoded %s (control character in the %s) → 400 JSON, upstream never contacted', async (clientPath) => {
    const app = express();
    app.use((req, _res, next) => {
      req.url = decodeURIComponent(req.url);
      next();
    });
    app.use(mw({ targets: up.url }));
    const server = await serve(app);
    const res = await send(server.port, clientPath, { accept: 'application/json' });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toEqual(BAD_REQUEST_JSON);
    expectUpstreamUntouched();
  });

  // nginx refuses %00 too; C upstreams decode the path and truncate at it (issue 12).
  it.each(['/a%00b', '/a%00.png', '/a%0d%0aX-Injected:%201', '/a%0Ab', '/a%1fb', '/a%7Fb', '/x/%01/y'])(
    'an encoded control character in the path %s → 400 JSON, upstream never contacted',
    async (clientPath) => {
      const server = await serveExpress(undefined, mw({ targets: up.url }));
      const res = await send(server.port, clientPath, { accept: 'application/json' });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text)).toEqual(BAD_REQUEST_JSON);
      expectUpstreamUntouched();
    },
  );

  it('encoded control characters in the query, and %20 / %7E / %2F in the path, are passed through as they are', async () => {
    const server = await serveExpress(undefined, mw({ targets: up.url }));
    const res = await send(server.port, '/a%20b%7e%2F%25%30?q=%00%01%0d%0a');
    expect(res.status).toBe(200);
    expect(onlyUpstreamUrl()).toBe('/a%20b%7e%2F%25%30?q=%00%01%0d%0a');
    expect(up.requests[0]!.headers['x-injected']).toBeUndefined();
  });
});

describe('skip and except', () => {
  it('skip returning true calls next() without proxying; false proxies', async () => {
    const calls: string[] = [];
    const m = mw({
      targets: up.url,
      skip: (req) => {
        calls.push(`${req.method} ${req.url}`);
        return req.headers['x-skip'] === '1';
      },
    });
    const server = await serveExpress('/api', m);
    const skipped = await send(server.port, '/api/a?x=1', { 'x-skip': '1' });
    expect(skipped.status).toBe(404);
    expect(skipped.text).toBe(NEXT_CALLED_BODY);
    expectUpstreamUntouched();
    const proxied = await send(server.port, '/api/a?x=1', { 'x-skip': '0' }, 'DELETE');
    expect(proxied.status).toBe(200);
    expect(onlyUpstreamUrl()).toBe('/a?x=1');
    expect(up.requests[0]!.method).toBe('DELETE');
    expect(calls).toEqual(['GET /a?x=1', 'DELETE /a?x=1']);
  });

  it('a skipped request on a bare http handler (no next) gets 404', async () => {
    const m = mw({ targets: up.url, skip: () => true });
    const server = await serve((req, res) => m(req, res));
    const res = await send(server.port, '/x');
    expect(res.status).toBe(404);
    expectUpstreamUntouched();
  });

  it('a throwing skip is handed to next(err), and the next request still works', async () => {
    const m = mount(
      'express-use',
      mw({
        targets: up.url,
        skip: (req) => {
          if (req.url?.startsWith('/boom') === true) throw new Error('skip exploded');
          return false;
        },
      }),
    );
    const server = await serve(m.handler);
    const res = await send(server.port, '/api/boom');
    expect(res.status).toBe(500);
    expect(res.text).toBe(`${NEXT_ERROR_PREFIX}skip exploded`);
    expectUpstreamUntouched();
    expect((await send(server.port, '/api/ok')).status).toBe(200);
    expect(onlyUpstreamUrl()).toBe('/ok');
  });

  it('async skip: async () => false proxies, async () => true calls next() (issue 12)', async () => {
    const m = mw({ targets: up.url, skip: async (req) => req.headers['x-skip'] === '1' });
    const server = await serveExpress('/api', m);
    const proxied = await send(server.port, '/api/a?x=1');
    expect(proxied.status).toBe(200);
    expect(onlyUpstreamUrl()).toBe('/a?x=1');
    const skipped = await send(server.port, '/api/b', { 'x-skip': '1' });
    expect(skipped.status).toBe(404);
    expect(skipped.text).toBe(NEXT_CALLED_BODY);
    expect(up.requests).toHaveLength(1);
  });

  it('async skip on a bare http handler: false proxies, true gets 404', async () => {
    const m = mw({ targets: up.url, skip: (req) => Promise.resolve(req.url === '/skip') });
    const server = await serve((req, res) => m(req, res));
    expect((await send(server.port, '/go')).status).toBe(200);
    expect((await send(server.port, '/skip')).status).toBe(404);
    expect(onlyUpstreamUrl()).toBe('/go');
  });

  it('async skip: a rejection is handed to next(err), and the next request still works', async () => {
    const m = mount(
      'express-use',
      mw({
        targets: up.url,
        skip: async (req) => {
          if (req.url?.startsWith('/boom') === true) throw new Error('async skip exploded');
          return false;
        },
      }),
    );
    const server = await serve(m.handler);
    const res = await send(server.port, '/api/boom');
    expect(res.status).toBe(500);
    expect(res.text).toBe(`${NEXT_ERROR_PREFIX}async skip exploded`);
    expectUpstreamUntouched();
    expect((await send(server.port, '/api/ok')).status).toBe(200);
    expect(onlyUpstreamUrl()).toBe('/ok');
  });

  it.each([
    ['/static', true],
    ['/static/', true],
    ['/static/a', true],
    ['/static/a/b.css?v=1', true],
    ['/static?v=1', true],
    ['/assets/x', true],
    ['/statics', false],
    ['/static-files/a', false],
    ['/staticx', false],
    ['/api/static', false],
    ['/', false],
    // dot segments are resolved before except is checked
    ['/x/../static/a', true],
    ['/static/../x', false],
    ['/%2e/static/a', true],
  ])("except ['/static', '/assets/']: %s skipped=%s", async (rest, skipped) => {
    const m = mount('express-use', mw({ targets: up.url, except: ['/static', '/assets/'] }));
    const server = await serve(m.handler);
    const res = await send(server.port, m.clientPath(rest));
    if (skipped) {
      expect(res.status).toBe(404);
      expect(res.text).toBe(NEXT_CALLED_BODY);
      expectUpstreamUntouched();
    } else {
      expect(res.status).toBe(200);
      expect(up.requests).toHaveLength(1);
    }
  });

  it('except is matched on the mount-relative path', async () => {
    const server = await serveExpress('/api', mw({ targets: up.url, except: ['/api'] }));
    // The client path /api/api/x is /api/x to the middleware: excepted.
    expect((await send(server.port, '/api/api/x')).status).toBe(404);
    // /api/x is /x to the middleware: proxied.
    expect((await send(server.port, '/api/x')).status).toBe(200);
    expect(onlyUpstreamUrl()).toBe('/x');
  });
});
