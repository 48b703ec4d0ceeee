/**
 * Path traversal in every spelling, against each way a path is built: a target prefix
 * (`http://h/app`), an Express mount, rewrite rules and `to` templates fed by headers and
 * route params. The raw upstream records every request target byte for byte; whatever the
 * attack, each one it sees starts with the target prefix and holds no dot segment (also when
 * `%2e` is decoded, and when `\`, `%5C` or `%2F` are read as separators), or the client got
 * 400 and the upstream saw nothing at all.
 */
import type { RequestListener } from 'node:http';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proxy, type ProxyConfig } from '../../src/index.js';
import { literal } from '../helpers/match.js';
import { exchangeRaw, startRawChain, statuses, type RawUpstream } from './support.js';

/** Suffixes appended to a base path; each tries to climb out of where it is sent. */
const ATTACKS: readonly string[] = [
  '/..',
  '/../',
  '/../etc/passwd',
  '/a/../../etc/passwd',
  '/a/b/c/../../../../etc',
  '/./././../etc',
  '/%2e%2e/etc',
  '/%2E%2E/etc',
  '/%2E./etc',
  '/.%2e/etc',
  '/.%2E/etc',
  '/%2e%2E/%2E%2e/etc',
  '/a/%2e/%2e%2e/%2e%2e/etc',
  '/a/..%2fetc',
  '/a/..%2F..%2Fetc',
  '/..%2f..%2fetc',
  '/%2e%2e%2f%2e%2e%2fetc',
  '/a%2f..%2f..%2fetc',
  '/a/%2e%2e%2f',
  '/%2F..%2F..%2Fetc',
  '/..\\..\\etc',
  '/a\\..\\..\\etc',
  '/\\..\\etc',
  '/..%5c..%5cetc',
  '/..%5C..%5Cetc',
  '/%2e%2e%5cetc',
  '/%2e%2e\\etc',
  '/%252e%252e/etc',
  '/%252e%252e%252fetc',
  '/%25%32%65%25%32%65/etc',
  '/%%32%65%%32%65/etc',
  '/%c0%ae%c0%ae/etc',
  '/%C0%AE%C0%AE/etc',
  '/%c0%ae%c0%ae%c0%afetc',
  '/..%c0%afetc',
  '/..%c1%9cetc',
  '/%e0%80%ae%e0%80%ae/etc',
  '/%u002e%u002e/etc',
  '/..;/etc',
  '/a/..;/..;/etc',
  '/..;jsessionid=1/etc',
  '/..%3b/etc',
  '/.../etc',
  '/..../etc',
  '//..',
  '//../etc',
  '/a/b/..',
  '/a/b/%2e%2e',
  '/a/b/.',
  '//evil.example/x',
  '/\\evil.example/x',
  '/\xef\xbc\x8e\xef\xbc\x8e/etc',
  '/..?q=../../etc',
  '/ok?q=%2e%2e/..',
];

/** Separators an upstream might split on, and `%2e` read as a dot: a single decode. */
const SEPARATORS = /\/|\\|%2f|%5c/i;

/** True when any segment of `path` (query excluded) is `.` or `..` once `%2e` is decoded. */
function hasDotSegment(path: string): boolean {
  return path.split(SEPARATORS).some((segment) => {
    const plain = segment.replace(/%2e/gi, '.');
    return plain === '.' || plain === '..';
  });
}

/** Overlong UTF-8 spellings of `.`, `/` and `\` that old decoders read as those characters. */
const OVERLONG = /%c0%a[ef]|%c1%9c|%e0%80%a[ef]|%f0%80%80%a[ef]/i;
/** Path parameters (`..;x`) that Tomcat and Jetty strip before resolving dot segments. */
const DOT_DOT_PARAM = /(?:^|[/\\])(?:\.|%2e){2}(?:;|%3b)/i;

interface Scenario {
  readonly name: string;
  readonly up: RawUpstream;
  readonly port: number;
  /** What every upstream path must start with. */
  readonly prefix: string;
  /** Client request targets for an attack suffix. */
  readonly targets: (attack: string) => string[];
  /** Extra request headers. */
  readonly headers?: string;
  close(): Promise<void>;
}

async function scenario(
  name: string,
  config: (upUrl: string) => ProxyConfig,
  opts: { prefix: string; app?: (mw: ReturnType<typeof proxy>) => RequestListener; targets: Scenario['targets']; headers?: string },
): Promise<Scenario> {
  const { up, port, close } = await startRawChain(config, opts.app);
  return {
    name,
    up,
    port,
    prefix: opts.prefix,
    targets: opts.targets,
    ...(opts.headers === undefined ? {} : { headers: opts.headers }),
    close,
  };
}

/** Sends `target` and checks the invariant; returns the status and what the upstream saw. */
async function attack(s: Scenario, target: string, headers = s.headers ?? ''): Promise<{ status: number | undefined; seen: string[] }> {
  const before = s.up.requests.length;
  const reply = await exchangeRaw(
    s.port,
    `GET ${target} HTTP/1.1\r\nHost: client.example\r\n${headers}Connection: close\r\n\r\n`,
    { responses: 1 },
  );
  const status = statuses(reply)[0];
  const seen = s.up.requests.slice(before).map((r) => r.target);
  if (status === 400) {
    expect(seen, `${target} → 400, yet the upstream saw a request`).toEqual([]);
  }
  for (const path of seen) {
    const pathOnly = path.split('?')[0] ?? '';
    expect(pathOnly, `${target} reached ${path}`).toMatch(new RegExp(`^${literal(s.prefix)}(/|$)`));
    expect(hasDotSegment(pathOnly), `${target} reached ${path} with a dot segment`).toBe(false);
    expect(OVERLONG.test(pathOnly), `${target} reached ${path} with an overlong dot or slash`).toBe(false);
    expect(DOT_DOT_PARAM.test(pathOnly), `${target} reached ${path} with a ..; segment`).toBe(false);
  }
  expect(seen.length).toBeLessThanOrEqual(1);
  return { status, seen };
}

const scenarios: Scenario[] = [];
afterAll(async () => {
  await Promise.all(scenarios.map((s) => s.close()));
});

describe('path traversal', () => {
  beforeAll(async () => {
    scenarios.push(
      await scenario('target prefix http://h/app (bare handler)', (u) => ({ targets: `${u}/app` }), {
        prefix: '/app',
        targets: (a) => [a, `/x${a}`, `/x/y${a}`],
      }),
      await scenario('target prefix with a trailing slash http://h/app/', (u) => ({ targets: `${u}/app/` }), {
        prefix: '/app',
        targets: (a) => [a, `/x${a}`],
      }),
      await scenario(
        "Express mount app.use('/api') → http://h/app",
        (u) => ({ targets: `${u}/app` }),
        {
          prefix: '/app',
          app: (mw) => {
            const app = express();
            app.use('/api', mw);
            return app;
          },
          targets: (a) => [`/api${a}`, `/API${a}`, `/api/x${a}`, `/x${a}`, `/api%2f${a.slice(1)}`],
        },
      ),
      await scenario(
        "rewrite { '/v1/*': '/internal/$1' } → http://h/app",
        (u) => ({ targets: `${u}/app`, rewrite: { '/v1/*': '/internal/$1' } }),
        { prefix: '/app', targets: (a) => [`/v1${a}`, `/v1/x${a}`, a] },
      ),
      await scenario(
        "rewrite whose capture can form a dot segment { '/x*': '/$1' }",
        (u) => ({ targets: `${u}/app`, rewrite: { '/x*': '/$1', '/y/*/z': '/in/$1/z' } }),
        { prefix: '/app', targets: (a) => [`/x${a}`, `/x..${a}`, `/x.%2e${a}`, `/y${a}/z`, `/x${a.slice(1)}`] },
      ),
      await scenario(
        'regexRewrite [/^\\/r\\/(.*)$/, "/in/$1"]',
        (u) => ({ targets: `${u}/app`, regexRewrite: [[/^\/r\/(.*)$/, '/in/$1']] }),
        { prefix: '/app', targets: (a) => [`/r${a}`, `/r/${a.slice(1)}`] },
      ),
      await scenario(
        "to: '/t{path}{query}' with targets http://h/app",
        (u) => ({ targets: `${u}/app`, to: '/t{path}{query}' }),
        { prefix: '/app/t', targets: (a) => [a, `/x${a}`] },
      ),
      await scenario(
        "absolute to: 'http://h/app{path}{query}'",
        (u) => ({ to: `${u}/app{path}{query}` }),
        { prefix: '/app', targets: (a) => [a, `/x${a}`] },
      ),
    );
  });

  it.each(ATTACKS)('%j', async (suffix) => {
    for (const s of scenarios) {
      for (const target of s.targets(suffix)) await attack(s, target);
    }
  });
});

describe('path traversal through values a template inserts', () => {
  let header: Scenario;
  let headerRewrite: Scenario;
  let param: Scenario;

  beforeAll(async () => {
    header = await scenario(
      "to: '/tenants/{header.x-tenant}/items{path}'",
      (u) => ({ targets: `${u}/app`, to: '/tenants/{header.x-tenant}/items{path}' }),
      { prefix: '/app/tenants', targets: (a) => [a] },
    );
    headerRewrite = await scenario(
      "rewrite then to: '/{header.x-tenant}{path}'",
      (u) => ({ targets: `${u}/app`, rewrite: { '/v1/*': '/internal/$1' }, to: '/{header.x-tenant}{path}' }),
      { prefix: '/app', targets: (a) => [a] },
    );
    param = await scenario(
      "route app.get('/r/:id/*rest') with to: '/items/{param.id}/detail'",
      (u) => ({ targets: `${u}/app`, to: '/items/{param.id}/detail' }),
      {
        prefix: '/app/items',
        app: (mw) => {
          const app = express();
          app.get('/r/:id/*rest', mw);
          return app;
        },
        targets: (a) => [a],
      },
    );
    scenarios.push(header, headerRewrite, param);
  });

  const VALUES = [
    '..',
    '.',
    '../..',
    '../../etc',
    '%2e%2e',
    '%2E%2E/%2e%2e',
    '..\\..',
    '..%5c..',
    'a/../../..',
    '..;',
    '%c0%ae%c0%ae',
    '?x=1',
    '#frag',
    'a b',
    'caf\xc3\xa9',
  ];

  it.each(VALUES)('header value %j stays inside one segment, or is refused', async (value) => {
    const { status, seen } = await attack(header, '/x', `X-Tenant: ${value}\r\n`);
    if (seen.length === 1) {
      // The value occupies exactly one segment: /app/tenants/<value>/items/x.
      const parts = (seen[0] ?? '').split('/');
      expect(parts.slice(0, 3)).toEqual(['', 'app', 'tenants']);
      expect(parts.slice(4)).toEqual(['items', 'x']);
      expect(parts[3]).not.toMatch(/[/\\?#]/);
    } else {
      expect(status).toBe(400);
    }
    await attack(headerRewrite, '/v1/y', `X-Tenant: ${value}\r\n`);
  });

  it('a header value of exactly ".." is refused (it would move the template\'s own segments)', async () => {
    const { status, seen } = await attack(header, '/x', 'X-Tenant: ..\r\n');
    expect(status).toBe(400);
    expect(seen).toEqual([]);
  });

  it.each(['..', '%2e%2e', '%2E.', '.%2e', '.', '..%2f..', '%2e%2e%2f%2e%2e', '..%5c..', '%252e%252e'])(
    'route param %j (Express decodes it) stays inside one segment, or is refused',
    async (id) => {
      const { status, seen } = await attack(param, `/r/${id}/rest`);
      if (seen.length === 1) {
        const parts = (seen[0] ?? '').split('/');
        expect(parts.slice(0, 3)).toEqual(['', 'app', 'items']);
        expect(parts.slice(4)).toEqual(['detail']);
      } else {
        expect(status === 400 || status === 404).toBe(true);
      }
    },
  );

  it('pins a few exact outcomes', async () => {
    const prefixed = scenarios[0]!;
    expect((await attack(prefixed, '/a/b/%2E./c')).seen).toEqual(['/app/a/c']);
    expect((await attack(prefixed, '/a/b/..;/c')).status).toBe(400);
    expect((await attack(prefixed, '/a/%c0%ae%c0%ae/c')).status).toBe(400);
    expect((await attack(prefixed, '/a/%252e%252e/c')).seen).toEqual(['/app/a/%252e%252e/c']);
    expect((await attack(prefixed, '/a%2Fb/c')).seen).toEqual(['/app/a%2Fb/c']);
    expect((await attack(header, '/x', 'X-Tenant: a/b\r\n')).seen).toEqual(['/app/tenants/a%2Fb/items/x']);
    expect((await attack(header, '/x', 'X-Tenant: ../../etc\r\n')).status).toBe(400);
    expect((await attack(header, '/x', 'X-Tenant: %2e%2e\r\n')).seen).toEqual(['/app/tenants/%252e%252e/items/x']);
    expect((await attack(param, '/r/%2e%2e/rest')).status).toBe(400);
  });
});
