import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { cookie, headerHash, ipHash, leastConn, uriHash } from '../../src/balancer/factories.js';
import { pickByKey } from '../../src/balancer/policies/rendezvous.js';
import { stickyCookie } from '../../src/balancer/policies/cookie.js';
import { resolveBalancer } from '../../src/balancer/resolve-balancer.js';
import { isLiveTarget, type LiveTarget } from '../../src/balancer/target.js';
import * as api from '../../src/index.js';
import { proxy } from '../../src/index.js';
import type { Balancer, BalancerOption, ProxyConfig, ProxyTarget, TargetInput } from '../../src/types.js';
import { aConfigError } from '../helpers/config-error.js';

const three = ['http://a:1', 'http://b:2', 'http://c:3'];

function request(opts: { addr?: string; url?: string; headers?: Record<string, string> } = {}): IncomingMessage {
  return { socket: { remoteAddress: opts.addr ?? '10.0.0.1' }, url: opts.url ?? '/', headers: opts.headers ?? {} } as unknown as IncomingMessage;
}

function picks(b: Balancer, req: IncomingMessage, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += b.next(req)?.name[0] ?? '-';
  return out;
}

/** What a rendezvous policy must pick for `key` among `b`'s targets. */
function hashed(b: Balancer, key: string): string {
  return (pickByKey(b.targets as readonly LiveTarget[], key)?.name ?? '-')[0] as string;
}

describe('the new factories', () => {
  it('leastConn prefers the idle target and rotates idle ones', () => {
    const b = leastConn(three);
    expect(picks(b, request(), 3)).toBe('abc');
    (b.targets[0] as LiveTarget).active = 1;
    expect(picks(b, request(), 2)).toBe('bc');
  });

  it('ipHash keys on the socket address', () => {
    const b = ipHash(three);
    expect(picks(b, request({ addr: '10.9.8.7' }), 3)).toBe(hashed(b, '10.9.8.7').repeat(3));
  });

  it('uriHash keys on req.url', () => {
    const b = uriHash(three);
    expect(picks(b, request({ url: '/p?q=1' }), 3)).toBe(hashed(b, '/p?q=1').repeat(3));
  });

  it('headerHash keys on the header and falls back to round robin', () => {
    const b = headerHash('X-Tenant', three);
    expect(picks(b, request({ headers: { 'x-tenant': 't1' } }), 3)).toBe(hashed(b, 't1').repeat(3));
    expect(picks(b, request(), 3)).toBe('abc');
  });

  it('cookie is sticky and sets the cookie through stickyCookie', () => {
    const b = cookie('sticky', three, { secret: 'k' });
    const first = b.next(request()) as ProxyTarget;
    const setCookie = stickyCookie(b, request(), first) as string;
    expect(setCookie).toMatch(/^sticky=[0-9a-f]{16}; Path=\/; HttpOnly; SameSite=Lax$/);
    const back = request({ headers: { cookie: setCookie.split(';')[0] as string } });
    expect(picks(b, back, 3)).toBe(first.name[0]?.repeat(3));
    expect(stickyCookie(b, back, first)).toBeUndefined();
  });

  it('cookie works without options', () => {
    expect(cookie('sid', three).next(request())?.name).toBe('a:1');
  });

  it('return live targets', () => {
    for (const b of [leastConn(three), ipHash(three), uriHash(three), headerHash('x', three), cookie('s', three)]) {
      expect(isLiveTarget(b.targets[0] as ProxyTarget)).toBe(true);
    }
  });

  it('are exported from the package, and stickyCookie is not', () => {
    expect(api).toMatchObject({ leastConn, ipHash, uriHash, headerHash, cookie });
    expect(Object.keys(api)).not.toContain('stickyCookie');
  });

  it.each<[string, (t: TargetInput[]) => Balancer]>([
    ['leastConn', leastConn],
    ['ipHash', ipHash],
    ['uriHash', uriHash],
    ['headerHash', (t) => headerHash('x-user', t)],
    ['cookie', (t) => cookie('sid', t)],
  ])('%s names itself in target validation errors', (name, factory) => {
    expect(() => factory('http://a:1' as unknown as TargetInput[])).toThrow(
      aConfigError(`switchyard: ${name}() targets must be an array of targets, got "http://a:1", e.g. ['http://127.0.0.1:3001']`),
    );
    expect(() => factory([{ url: 'http://a:1', weight: 0 }])).toThrow(
      aConfigError(
        `switchyard: ${name}() targets would never be chosen: all weights are 0; give at least one target a weight above 0, ` +
          "e.g. { url: 'http://127.0.0.1:3001', weight: 1 }",
      ),
    );
    expect(() => factory(['http://a:1', 'nope'])).toThrow(new RegExp(`^switchyard: ${name}\\(\\) targets\\[1\\] `));
  });

  const headerExample = "e.g. headerHash('X-User', ['http://127.0.0.1:3001'])";
  it.each<[unknown, string]>([
    [42, '42'],
    ['', '""'],
    ['X User', '"X User"'],
    ['x-user:', '"x-user:"'],
    [undefined, 'undefined'],
  ])('headerHash rejects the name %j', (name, shown) => {
    expect(() => headerHash(name as string, three)).toThrow(
      aConfigError(`switchyard: headerHash() name must be a header name such as 'X-User', got ${shown}, ${headerExample}`),
    );
  });

  const cookieExample = "e.g. cookie('sticky', ['http://127.0.0.1:3001'], { secret: process.env.STICKY_SECRET })";
  it.each<[string, () => Balancer, string]>([
    ['a number name', () => cookie(7 as unknown as string, three),
      `switchyard: cookie() name must be a cookie name (letters, digits and !#$%&'*+-.^_\`|~), got 7, ${cookieExample}`],
    ['a name with a space', () => cookie('my sid', three),
      `switchyard: cookie() name must be a cookie name (letters, digits and !#$%&'*+-.^_\`|~), got "my sid", ${cookieExample}`],
    ['a name with =', () => cookie('sid=x', three),
      `switchyard: cookie() name must be a cookie name (letters, digits and !#$%&'*+-.^_\`|~), got "sid=x", ${cookieExample}`],
    ['options that are not an object', () => cookie('sid', three, 'k' as unknown as { secret: string }),
      `switchyard: cookie() options must be an object, got "k", ${cookieExample}`],
    ['an unknown option', () => cookie('sid', three, { secret: 'k', maxAge: 1 } as unknown as { secret: string }),
      'switchyard: cookie() options.maxAge is not an option; use secret'],
    ['an empty secret', () => cookie('sid', three, { secret: '' }),
      `switchyard: cookie() options.secret must be a non-empty string, got an empty string, ${cookieExample}`],
    ['a numeric secret (not shown)', () => cookie('sid', three, { secret: 12345 as unknown as string }),
      `switchyard: cookie() options.secret must be a non-empty string, got number, ${cookieExample}`],
  ])('cookie rejects %s', (_label, make, message) => {
    expect(make).toThrow(aConfigError(message));
  });
});

describe('resolveBalancer with the new policies', () => {
  it.each<[BalancerOption, IncomingMessage, (b: Balancer) => string]>([
    ['least_conn', request(), () => 'abc'],
    ['ip_hash', request({ addr: '10.1.1.1' }), (b) => hashed(b, '10.1.1.1').repeat(3)],
    ['uri_hash', request({ url: '/u?x' }), (b) => hashed(b, '/u?x').repeat(3)],
    [{ header: 'X-Tenant' }, request({ headers: { 'x-tenant': 'acme' } }), (b) => hashed(b, 'acme').repeat(3)],
    [{ header: 'X-Tenant' }, request(), () => 'abc'],
    [{ cookie: 'sid' }, request(), () => 'abc'],
    [{ cookie: 'sid', secret: 'k' }, request(), () => 'abc'],
  ])('%j', (option, req, want) => {
    const b = resolveBalancer(option, three);
    expect(picks(b, req, 3)).toBe(want(b));
  });

  it('{ cookie } creates a cookie balancer with its secret', () => {
    const plain = resolveBalancer({ cookie: 'sid' }, three);
    const signed = resolveBalancer({ cookie: 'sid', secret: 'k' }, three);
    const fromFactory = cookie('sid', three, { secret: 'k' });
    const set = (b: Balancer): string | undefined => stickyCookie(b, request(), b.targets[0] as ProxyTarget);
    expect(set(signed)).toBe(set(fromFactory));
    expect(set(plain)).toMatch(/^sid=[0-9a-f]{16}; /);
    expect(set(plain)).not.toBe(set(signed));
  });

  it.each<[BalancerOption]>([['least_conn'], [{ header: 'x' }], [{ cookie: 'sid' }]])('%j requires targets', (option) => {
    expect(() => resolveBalancer(option, undefined)).toThrow(
      aConfigError("switchyard: targets is required, e.g. targets: 'http://127.0.0.1:3001'"),
    );
  });

  const H = "e.g. { header: 'X-User' }";
  const C = "e.g. { cookie: 'sticky', secret: process.env.STICKY_SECRET }";
  const COOKIE_CHARS = "(letters, digits and !#$%&'*+-.^_`|~)";
  it.each<[string, unknown, string]>([
    ['a numeric header', { header: 42 }, `switchyard: balancer.header must be a header name such as 'X-User', got 42, ${H}`],
    ['an empty header', { header: '' }, `switchyard: balancer.header must be a header name such as 'X-User', got "", ${H}`],
    ['header and cookie together', { header: 'x', cookie: 'y' },
      'switchyard: balancer.cookie is not an option; use header'],
    ['a header policy with a secret', { header: 'x', secret: 'y' },
      'switchyard: balancer.secret is not an option; use header'],
    ['a cookie name with a space', { cookie: 'a b' }, `switchyard: balancer.cookie must be a cookie name ${COOKIE_CHARS}, got "a b", ${C}`],
    ['a null cookie name', { cookie: null }, `switchyard: balancer.cookie must be a cookie name ${COOKIE_CHARS}, got null, ${C}`],
    ['an empty secret', { cookie: 'sid', secret: '' }, `switchyard: balancer.secret must be a non-empty string, got an empty string, ${C}`],
    ['an unknown cookie option', { cookie: 'sid', path: '/x' },
      'switchyard: balancer.path is not an option; use cookie, secret'],
  ])('rejects %s', (_label, option, message) => {
    expect(() => resolveBalancer(option as BalancerOption, three)).toThrow(aConfigError(message));
  });

  it('proxy() throws the same messages', () => {
    const bad = (balancer: unknown): ProxyConfig => ({ targets: three, balancer: balancer as BalancerOption });
    expect(() => proxy(bad({ header: 42 }))).toThrow(/^switchyard: balancer\.header must be a header name/);
    expect(() => proxy(bad({ cookie: 'sid', secret: 1 }))).toThrow(
      aConfigError(`switchyard: balancer.secret must be a non-empty string, got number, ${C}`),
    );
  });

  it('proxy() accepts every policy name and object', async () => {
    for (const balancer of ['least_conn', 'ip_hash', 'uri_hash', { header: 'X-User' }, { cookie: 'sid', secret: 'k' }] as BalancerOption[]) {
      const mw = proxy({ targets: three, balancer });
      expect(mw.balancer.targets.map((t) => t.name)).toEqual(['a:1', 'b:2', 'c:3']);
      await mw.close();
    }
  });
});
