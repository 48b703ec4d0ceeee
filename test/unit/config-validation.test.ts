/**
 * Every invalid option makes `proxy()` throw a ConfigError (a TypeError) whose message has
 * the one shape `switchyard: <option> <problem>[, e.g. <example>]` and names the option at
 * fault (ARCHITECTURE.md style rule 3).
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import https from 'node:https';
import { rootCertificates, type TLSSocket } from 'node:tls';
import request from 'supertest';
import { Agent as UndiciAgent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, proxy, type ProxyConfig, type ProxyMiddleware, type TlsOptions } from '../../src/index.js';
import { configErrorFrom } from '../helpers/config-error.js';
import { generateCerts, type TestCerts } from '../helpers/certs.js';
import { sendText } from '../helpers/client.js';
import { deadTargetUrl } from '../helpers/dead-target.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { listen, rawRequest, serveOnLoopback } from '../helpers/listen.js';
import { until } from '../helpers/poll.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const { track } = useCleanup();

const T = 'http://127.0.0.1:3001';

/** A config built from `extra` on top of one valid target (unless `extra` sets targets itself). */
function withTarget(extra: Record<string, unknown>): ProxyConfig {
  return { targets: T, ...extra } as ProxyConfig;
}

/** Runs `proxy(config)` and returns the thrown error; fails the test if nothing was thrown. */
function thrownBy(config: unknown): Error {
  let mw: ProxyMiddleware | undefined;
  try {
    mw = proxy(config as ProxyConfig);
  } catch (err) {
    return err as Error;
  }
  void mw.close();
  throw new Error(`proxy() accepted ${JSON.stringify(config)}`);
}

const noop = (): void => {};

/** [case, config, a string (or pattern) the message must contain — the option's name]. */
const INVALID: Array<[string, unknown, string | RegExp]> = [
  // targets
  ['targets missing', {}, /targets is required/],
  ['targets: not a URL', { targets: 'not a url' }, /targets\[0\] is not a valid absolute URL/],
  ['targets: bare host:port', { targets: 'localhost:3001' }, /targets\[0\].*did you mean "http:\/\/localhost:3001"/],
  ['targets: bad protocol', { targets: 'ftp://127.0.0.1/' }, /targets\[0\] must use http:, https:, ws: or wss:/],
  ['targets: not a string', { targets: [42] }, /targets\[0\] must be a URL string/],
  ['targets: object with bad url', { targets: [{ url: 'file:///x' }] }, /targets\[0\]\.url must use http:/],
  ['targets: unknown object key', { targets: [{ url: T, wieght: 2 }] }, /^switchyard: targets\[0\]\.wieght is not an option; did you mean "targets\[0\]\.weight"\?$/],
  ['targets: negative weight', { targets: [{ url: T, weight: -1 }] }, /targets\[0\]\.weight must be a finite number >= 0/],
  ['targets: weight not a number', { targets: [{ url: T, weight: '2' }] }, /targets\[0\]\.weight/],
  ['targets: infinite weight', { targets: [{ url: T, weight: Infinity }] }, /targets\[0\]\.weight/],
  ['targets: empty name', { targets: [{ url: T, name: ' ' }] }, /targets\[0\]\.name must be a non-empty string/],
  [
    'targets: duplicate names',
    { targets: [{ url: T, name: 'a' }, { url: 'http://127.0.0.1:3002', name: 'a' }] },
    /^switchyard: targets\[1\] is named "a", which another target already has/,
  ],
  ['targets: duplicate default names', { targets: [T, `${T}/x`] }, /^switchyard: targets\[1\] is named "127\.0\.0\.1:3001"/],
  [
    'targets: all weights zero',
    { targets: [{ url: T, weight: 0 }, { url: 'http://127.0.0.1:3002', weight: 0 }] },
    /targets would never be chosen: all weights are 0/,
  ],
  ['targets: credentials', { targets: 'http://u:p@127.0.0.1:3001' }, /targets\[0\] must not contain a user name/],
  ['targets: query string', { targets: `${T}/?a=1` }, /targets\[0\] must not contain a query string/],
  // balancer
  ['balancer: unknown name', withTarget({ balancer: 'fastest' }), /^switchyard: balancer must be one of .*got "fastest", e\.g\. /],
  ['balancer: number', withTarget({ balancer: 3 }), /balancer must be one of/],
  ['balancer: null (not the default)', withTarget({ balancer: null }), /^switchyard: balancer must be one of .*got null/],
  ['balancer: partial instance', { balancer: { targets: [], next: noop } }, /balancer looks like a Balancer instance but lacks add, remove/],
  // to
  ['to: placeholder in host', withTarget({ to: 'http://{header.host}/x{path}' }), /^switchyard: to has a placeholder in its scheme, host or port/],
  ['to: placeholder in port', { to: 'http://127.0.0.1:{header.p}{path}' }, /^switchyard: to has a placeholder/],
  ['to: not a string', withTarget({ to: 42 }), /^switchyard: to must be a string/],
  ['to: unknown placeholder', withTarget({ to: '/v2{nope}' }), /to has an unknown placeholder \{nope\}/],
  ['to: origin differs from targets', withTarget({ to: 'http://127.0.0.1:9999{path}' }), /^switchyard: to has origin/],
  // rewrite / regexRewrite
  ['rewrite: not an object', withTarget({ rewrite: ['/a', '/b'] }), /^switchyard: rewrite must be a plain object/],
  ['rewrite: bad key', withTarget({ rewrite: { 'v1/*': '/v2/$1' } }), /^switchyard: rewrite key "v1\/\*" must start with/],
  ['rewrite: bad value', withTarget({ rewrite: { '/v1/*': 2 } }), /^switchyard: rewrite value for "\/v1\/\*"/],
  ['regexRewrite: not an array', withTarget({ regexRewrite: { '/a': '/b' } }), /^switchyard: regexRewrite must be an array/],
  ['regexRewrite: not pairs', withTarget({ regexRewrite: [['^/a', '/b']] }), /^switchyard: regexRewrite\[0\] must be a \[RegExp, string\] pair/],
  ['regexRewrite: pair too long', withTarget({ regexRewrite: [[/a/, '/b', 'x']] }), /regexRewrite\[0\]/],
  // skip / except
  ['skip: not a function', withTarget({ skip: true }), /^switchyard: skip must be a function/],
  ['except: not strings', withTarget({ except: ['/static', 3] }), /^switchyard: except must be an array of path prefixes/],
  ['except: not an array', withTarget({ except: '/static' }), /^switchyard: except must be an array/],
  ['except: relative prefix', withTarget({ except: ['static'] }), /^switchyard: except .*got "static"/],
  // headers / responseHeaders
  ['headers: not an object', withTarget({ headers: 'X-A: 1' }), /^switchyard: headers must be an object/],
  ['headers: bad value', withTarget({ headers: { 'X-A': 1 } }), /^switchyard: headers\['X-A'\] must be a string, null or a function/],
  ['headers: invalid name', withTarget({ headers: { 'X A': 'v' } }), /^switchyard: headers has an invalid header name 'X A'/],
  ['headers: CRLF constant', withTarget({ headers: { 'X-A': 'v\r\nX-Evil: 1' } }), /^switchyard: headers\['X-A'\] contains a character not allowed/],
  ['headers: duplicate names', withTarget({ headers: { 'X-A': 'a', 'x-a': 'b' } }), /^switchyard: headers lists 'X-A' and 'x-a'/],
  ['headers: unknown placeholder', withTarget({ headers: { 'X-A': '{nope}' } }), /headers\['X-A'\] has an unknown placeholder/],
  ['responseHeaders: not an object', withTarget({ responseHeaders: [] }), /^switchyard: responseHeaders must be an object/],
  ['responseHeaders: bad value', withTarget({ responseHeaders: { 'X-A': true } }), /^switchyard: responseHeaders\['X-A'\] must be/],
  ['responseHeaders: invalid name', withTarget({ responseHeaders: { 'X:A': 'v' } }), /^switchyard: responseHeaders has an invalid header name/],
  ['responseHeaders: CRLF constant', withTarget({ responseHeaders: { 'X-A': 'a\nb' } }), /^switchyard: responseHeaders\['X-A'\] contains a character/],
  // forwarding
  ['xfwd: not boolean', withTarget({ xfwd: 'yes' }), /^switchyard: xfwd must be true or false/],
  ['trustProxy: bad CIDR', withTarget({ trustProxy: ['10.0.0.0/33'] }), /^switchyard: trustProxy has an invalid entry '10\.0\.0\.0\/33'/],
  ['trustProxy: not an IP', withTarget({ trustProxy: ['example.com'] }), /^switchyard: trustProxy has an invalid entry 'example\.com'/],
  ['trustProxy: number entry', withTarget({ trustProxy: [10] }), /^switchyard: trustProxy has an invalid entry 10/],
  ['trustProxy: null (not the default)', withTarget({ trustProxy: null }), /^switchyard: trustProxy must be a boolean/],
  ['trustProxy: wrong type', withTarget({ trustProxy: 'loopback' }), /^switchyard: trustProxy must be a boolean/],
  ['preserveHost: not boolean', withTarget({ preserveHost: 1 }), /^switchyard: preserveHost must be true or false/],
  // reliability
  ['timeout: zero', withTarget({ timeout: 0 }), /^switchyard: timeout must be an integer >= 1/],
  ['timeout: negative', withTarget({ timeout: -5 }), /^switchyard: timeout must be/],
  ['timeout: not a number', withTarget({ timeout: '30s' }), /^switchyard: timeout must be .*got "30s"/],
  ['timeout: NaN', withTarget({ timeout: Number.NaN }), /^switchyard: timeout must be/],
  ['timeout: Infinity', withTarget({ timeout: Infinity }), /^switchyard: timeout must be/],
  ['connectTimeout: zero', withTarget({ connectTimeout: 0 }), /^switchyard: connectTimeout must be an integer >= 1/],
  ['connectTimeout: not a number', withTarget({ connectTimeout: null }), /^switchyard: connectTimeout must be .*got null/],
  ['retries: negative', withTarget({ retries: -1 }), /^switchyard: retries must be an integer >= 0/],
  ['retries: non-integer', withTarget({ retries: 1.5 }), /^switchyard: retries must be an integer/],
  ['retries: Infinity', withTarget({ retries: Infinity }), /^switchyard: retries must be an integer/],
  ['retryFilter: not a function', withTarget({ retryFilter: 'network' }), /^switchyard: retryFilter must be a function/],
  ['retryOn: bad status', withTarget({ retryOn: [502, 700] }), /^switchyard: retryOn must be an array of HTTP status codes/],
  ['retryOn: not an array', withTarget({ retryOn: 502 }), /^switchyard: retryOn must be an array/],
  ['tryDuration: negative', withTarget({ tryDuration: -1 }), /^switchyard: tryDuration must be a number >= 0/],
  ['tryDuration: not a number', withTarget({ tryDuration: '5s' }), /^switchyard: tryDuration must be/],
  ['tryInterval: negative', withTarget({ tryInterval: -250 }), /^switchyard: tryInterval must be a number >= 0/],
  ['tryInterval: not a number', withTarget({ tryInterval: {} }), /^switchyard: tryInterval must be/],
  ['maxReplayBody: negative', withTarget({ maxReplayBody: -1 }), /^switchyard: maxReplayBody must be an integer >= 0/],
  ['maxReplayBody: non-integer', withTarget({ maxReplayBody: 1.5 }), /^switchyard: maxReplayBody must be an integer/],
  ['expectedStatus: not an array', withTarget({ expectedStatus: 200 }), /^switchyard: expectedStatus must be an array of HTTP status codes/],
  ['expectedStatus: bad status', withTarget({ expectedStatus: [200, 99] }), /^switchyard: expectedStatus must be an array/],
  ['expectedStatus: string status', withTarget({ expectedStatus: ['200'] }), /^switchyard: expectedStatus must be/],
  ['maxConns: zero', withTarget({ maxConns: 0 }), /^switchyard: maxConns must be/],
  ['maxConns: non-integer', withTarget({ maxConns: 2.5 }), /^switchyard: maxConns must be/],
  ['maxConns: not a number', withTarget({ maxConns: '10' }), /^switchyard: maxConns must be/],
  // hooks and context
  ['errorHandler: not a function', withTarget({ errorHandler: {} }), /^switchyard: errorHandler must be a function/],
  ['modifyResponse: not a function', withTarget({ modifyResponse: 'json' }), /^switchyard: modifyResponse must be a function/],
  ['contextKey: empty', withTarget({ contextKey: '' }), /^switchyard: contextKey must be a non-empty string/],
  ['contextKey: not a string', withTarget({ contextKey: 1 }), /^switchyard: contextKey must be a non-empty string/],
  // transport
  ['pool: not an object', withTarget({ pool: true }), /^switchyard: pool must be an object/],
  ['pool: bad key', withTarget({ pool: { maxSocket: 10 } }), /^switchyard: pool\.maxSocket is not an option; did you mean "pool\.maxSockets"\?$/],
  ['pool: maxSockets 0', withTarget({ pool: { maxSockets: 0 } }), /^switchyard: pool\.maxSockets must be an integer >= 1/],
  ['pool: keepAlive not boolean', withTarget({ pool: { keepAlive: 'yes' } }), /^switchyard: pool\.keepAlive must be true or false/],
  ['pool: maxFreeSockets (removed in 0.2)', withTarget({ pool: { maxFreeSockets: 8 } }), /^switchyard: pool\.maxFreeSockets was removed in 0\.2/],
  ['pool: keepAliveMsecs negative', withTarget({ pool: { keepAliveMsecs: -1 } }), /^switchyard: pool\.keepAliveMsecs must be/],
  ['agent (replaced by dispatcher in 0.2)', withTarget({ agent: { keepAlive: true } }), /^switchyard: agent was replaced by dispatcher in 0\.2/],
  ['dispatcher: not a dispatcher', withTarget({ dispatcher: { keepAlive: true } }), /^switchyard: dispatcher must be an undici Dispatcher/],
  ['dispatcher: a string', withTarget({ dispatcher: 'keepalive' }), /^switchyard: dispatcher must be an undici Dispatcher/],
  ['idleTimeout: zero', withTarget({ idleTimeout: 0 }), /^switchyard: idleTimeout must be/],
  ['http2: a string', withTarget({ http2: 'yes' }), /^switchyard: http2 must be true or false/],
  ['tls: not an object', withTarget({ tls: false }), /^switchyard: tls must be an object/],
  ['tls: bad key', withTarget({ tls: { rejectUnauthorized: false } }), /^switchyard: tls\.rejectUnauthorized is not an option; use verify, servername, ca, cert, key$/],
  ['tls: verify not boolean', withTarget({ tls: { verify: 'no' } }), /^switchyard: tls\.verify must be true or false/],
  ['tls: cert without key', withTarget({ tls: { cert: '-----BEGIN CERTIFICATE-----' } }), /^switchyard: tls needs both cert and key/],
  ['tls: key without cert', withTarget({ tls: { key: '-----BEGIN PRIVATE KEY-----' } }), /^switchyard: tls needs both cert and key/],
  ['tls: cert not PEM', withTarget({ tls: { cert: 42, key: 'k' } }), /^switchyard: tls\.cert must be a PEM string/],
  ['tls: bad servername', withTarget({ tls: { servername: true } }), /^switchyard: tls\.servername must be a host name or false/],
  ['tls: bad ca', withTarget({ tls: { ca: [1] } }), /^switchyard: tls\.ca must be a PEM string/],
  // the config itself
  ['http-proxy-middleware option target', { target: T }, /^switchyard: target is an http-proxy-middleware option; use targets, /],
  ['unknown option timout', withTarget({ timout: 5 }), /^switchyard: timout is not an option; did you mean "timeout"\?$/],
  ['unknown option retires', withTarget({ retires: 1 }), /^switchyard: retires is not an option; did you mean "retries"\?$/],
  ['unknown option with no near name', withTarget({ zzz: 1 }), /^switchyard: zzz is not an option; docs\/options\.md lists them all$/],
  ['tls typo', withTarget({ tls: { verfy: false } }), /^switchyard: tls\.verfy is not an option; did you mean "tls\.verify"\?$/],
];

describe('proxy() rejects invalid options with a ConfigError naming the option', () => {
  it.each(INVALID)('%s', (_case, config, message) => {
    const err = configErrorFrom(() => {
      throw thrownBy(config);
    });
    expect(err.message).toMatch(message);
    // The option path comes first, so tools can read it from the message as well as from `option`.
    expect(err.message.startsWith(`switchyard: ${err.option} `)).toBe(true);
  });

  it.each<[string, unknown]>([
    ['undefined', undefined],
    ['null', null],
    ['a string', T],
    ['an array', [T]],
    ['a number', 3],
    ['a class instance', new URL(T)],
  ])('rejects a config that is %s', (_case, config) => {
    const err = thrownBy(config);
    expect(err).toBeInstanceOf(TypeError);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/^switchyard: proxy\(\) config must be an object, got .*, e\.g\. proxy\(\{ targets: /);
  });
});

describe('valid configs are accepted', () => {
  const created: ProxyMiddleware[] = [];
  afterEach(async () => {
    await Promise.all(created.splice(0).map((mw) => mw.close()));
  });

  /**
   * Each accepted config, and the behaviour it must resolve to, checked with real requests to
   * `up` (an echo upstream on 127.0.0.1) through the middleware.
   */
  const ACCEPTED: Array<{ case: string; config: (up: string) => ProxyConfig; behaves: (mw: ProxyMiddleware, up: Upstream) => Promise<void> }> = [
    {
      case: 'one target string',
      config: (up) => ({ targets: up }),
      behaves: async (mw, up) => {
        await request(mw).get('/a?x=1').expect(200);
        expect(up.requests.map((r) => r.url)).toEqual(['/a?x=1']);
        expect(mw.stats()).toMatchObject([{ url: `${up.url}/`, requests: 1, statuses: { 200: 1 } }]);
      },
    },
    {
      case: 'a URL and an object target (weight 0: never chosen)',
      config: (up) => ({ targets: [new URL(up), { url: 'http://127.0.0.1:3002/p', name: 'b', weight: 0 }] }),
      behaves: async (mw, up) => {
        for (let i = 0; i < 3; i++) await request(mw).get('/x').expect(200);
        expect(mw.stats().map((s) => [s.url, s.requests])).toEqual([
          [`${up.url}/`, 3],
          ['http://127.0.0.1:3002/p', 0],
        ]);
        expect(mw.stats()[1]?.name).toBe('b');
      },
    },
    {
      case: 'an empty target list (NO_UPSTREAM until added)',
      config: () => ({ targets: [] }),
      behaves: async (mw, up) => {
        const none = await request(mw).get('/x').set('accept', 'application/json').expect(503);
        expect(none.text).toContain('"NO_UPSTREAM"');
        mw.balancer.add(up.url);
        await request(mw).get('/x').expect(200);
        expect(up.requests).toHaveLength(1);
      },
    },
    {
      case: 'ws: false (requests proxied, upgrades answered 501)',
      config: (up) => ({ targets: up, ws: false }),
      behaves: async (mw, up) => {
        await request(mw).get('/x').expect(200);
        const front = track(await listen(mw));
        front.server.on('upgrade', mw.upgrade);
        const reply = await rawRequest(
          front.port,
          'GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
        );
        expect(reply).toMatch(/^HTTP\/1\.1 501 /);
        expect(up.requests.map((r) => r.url)).toEqual(['/x']);
      },
    },
    {
      case: 'maxConns Infinity and pool maxSockets Infinity (no request refused)',
      config: (up) => ({ targets: up, maxConns: Infinity, pool: { maxSockets: Infinity } }),
      behaves: async (mw, up) => {
        const front = track(await listen(mw));
        const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => sendText(`${front.url}/n${i}`)));
        expect(replies.map((r) => r.status)).toEqual(Array(20).fill(200));
        expect(up.requests).toHaveLength(20);
      },
    },
    {
      case: 'a path template',
      config: (up) => ({ targets: up, to: '/v2{path}{query}' }),
      behaves: async (mw, up) => {
        await request(mw).get('/users?x=1').expect(200);
        expect(up.requests.map((r) => r.url)).toEqual(['/v2/users?x=1']);
      },
    },
    {
      case: 'a to with the same origin as targets',
      config: (up) => ({ targets: up, to: `${up}/v2{path}{query}` }),
      behaves: async (mw, up) => {
        await request(mw).get('/users?x=1').expect(200);
        expect(up.requests.map((r) => r.url)).toEqual(['/v2/users?x=1']);
      },
    },
    {
      case: 'a to with an origin and no targets (the origin is the one target)',
      config: (up) => ({ to: `${up}/v2{path}{query}` }),
      behaves: async (mw, up) => {
        await request(mw).get('/users?x=1').expect(200);
        expect(up.requests.map((r) => r.url)).toEqual(['/v2/users?x=1']);
        expect(mw.stats().map((s) => s.url)).toEqual([`${up.url}/`]);
      },
    },
    {
      case: 'retries 0, tryDuration 0, tryInterval 0 (one attempt only)',
      config: () => ({ targets: [], retries: 0, tryDuration: 0, tryInterval: 0 }),
      behaves: async (mw, up) => {
        mw.balancer.add({ url: await deadTargetUrl(), name: 'dead' });
        mw.balancer.add({ url: up.url, name: 'live' });
        await request(mw).get('/x').expect(502);
        expect(mw.stats().map((s) => [s.name, s.requests])).toEqual([
          ['dead', 1],
          ['live', 0],
        ]);
      },
    },
    {
      case: 'trustProxy CIDRs and named ranges (a loopback peer may supply X-Forwarded-For)',
      config: (up) => ({ targets: up, trustProxy: ['10.0.0.0/8', '::1', 'loopback'] }),
      behaves: async (mw, up) => {
        await request(mw).get('/x').set('x-forwarded-for', '203.0.113.9').expect(200);
        expect(up.requests[0]?.headers['x-forwarded-for']).toMatch(/^203\.0\.113\.9, (::ffff:)?127\.0\.0\.1$/);
      },
    },
    {
      case: 'header rules of every kind (string, placeholder, null, function)',
      config: (up) => ({ targets: up, headers: { 'X-A': 'a', 'X-Ip': '{addr}', 'X-B': null, 'X-C': () => 'c' } }),
      behaves: async (mw, up) => {
        await request(mw).get('/x').set('x-b', 'from-client').expect(200);
        const seen = up.requests[0]?.headers ?? {};
        expect({ a: seen['x-a'], b: seen['x-b'], c: seen['x-c'] }).toEqual({ a: 'a', b: undefined, c: 'c' });
        expect(seen['x-ip']).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
      },
    },
    {
      case: 'a user dispatcher (requests go through it)',
      config: (up) => ({ targets: up, dispatcher: userDispatcher }),
      behaves: async (mw) => {
        await request(mw).get('/x').expect(200);
        await mw.close();
        // close() leaves a user's dispatcher open: it still serves requests.
        expect(userDispatcher.destroyed).toBe(false);
        expect(userDispatcher.closed).toBe(false);
      },
    },
  ];
  const userDispatcher = new UndiciAgent();
  afterAll(() => userDispatcher.close());

  it.each(ACCEPTED)('$case', async ({ config, behaves }) => {
    const up = track(await startUpstream());
    const mw = proxy(config(up.url));
    created.push(mw);
    await behaves(mw, up);
  });

  it('does not write into the user config', () => {
    const config = { targets: [T], pool: { keepAlive: false }, tls: { verify: false } };
    const snapshot = JSON.stringify(config);
    created.push(proxy(Object.freeze(config) as ProxyConfig));
    expect(JSON.stringify(config)).toBe(snapshot);
  });
});

/**
 * TLS material (`tls.ca`, `tls.cert`, `tls.key`) is parsed by `proxy()`, with real
 * certificates from test/helpers/certs.ts: a bad PEM must not wait for the first request.
 */
describe('tls material is checked when proxy() is called', () => {
  let certs: TestCerts;
  beforeAll(async () => {
    certs = await generateCerts();
  });
  afterAll(async () => {
    await certs.cleanup();
  });

  const created: ProxyMiddleware[] = [];
  afterEach(async () => {
    await Promise.all(created.splice(0).map((mw) => mw.close()));
  });

  const HTTPS = 'https://127.0.0.1:8443';

  /** The PEM with 4 characters of its base64 body replaced by characters base64 doesn't have. */
  function breakBase64(pem: string): string {
    const broken = pem.replace(/(-----\n[A-Za-z0-9+/]{8})[A-Za-z0-9+/]{4}/, '$1@@@@');
    expect(broken).not.toBe(pem);
    return broken;
  }

  /** The client key, re-encoded by node:crypto (no openssl needed), optionally encrypted. */
  function clientKeyAs(type: 'pkcs8' | 'sec1', encrypted: boolean): string {
    const cipher = encrypted ? { cipher: 'aes-256-cbc', passphrase: 'x' } : {};
    return createPrivateKey(certs.client.key).export({ type, format: 'pem', ...cipher }).toString();
  }

  /**
   * `cert` in openssl's TRUSTED CERTIFICATE form: the certificate followed by its trust
   * settings, here an empty sequence (what `openssl x509 -trustout` writes without -addtrust).
   */
  function trustedForm(cert: string): string {
    const der = new X509Certificate(cert).raw;
    const body = Buffer.concat([der, Buffer.from([0x30, 0x00])]).toString('base64').replace(/.{64}/g, '$&\n');
    return `-----BEGIN TRUSTED CERTIFICATE-----\n${body}\n-----END TRUSTED CERTIFICATE-----\n`;
  }

  /** Fails when the message holds any 12 characters of a test private key's base64 body. */
  function expectNoKeyMaterial(message: string): void {
    for (const pem of [certs.client.key, certs.server.key]) {
      const body = pem.replace(/-----[^-]+-----|\s/g, '');
      for (let i = 0; i + 12 <= body.length; i++) expect(message).not.toContain(body.slice(i, i + 12));
    }
  }

  /** [case, tls option built once the certificates exist, pattern the message must match]. */
  const INVALID_TLS: Array<[string, () => unknown, RegExp]> = [
    [
      'cert: not PEM',
      () => ({ cert: 'not a cert', key: certs.client.key }),
      /^switchyard: tls\.cert must be a PEM certificate or chain, got a string of 10 characters with no PEM block, e\.g\. fs\.readFileSync\('client\.crt'\)$/,
    ],
    [
      'cert: a file name instead of its contents, as a Buffer',
      () => ({ cert: Buffer.from('client.crt'), key: certs.client.key }),
      /^switchyard: tls\.cert must be .*got a Buffer of 10 bytes with no PEM block/,
    ],
    [
      'cert and key swapped',
      () => ({ cert: certs.client.key, key: certs.client.cert }),
      /^switchyard: tls\.cert must be a PEM certificate or chain, got a string of \d+ characters with a "PRIVATE KEY" block/,
    ],
    [
      'cert: broken base64 body',
      () => ({ cert: breakBase64(certs.client.cert), key: certs.client.key }),
      /^switchyard: tls\.cert must be .*, but certificate 1 of 1 does not parse \(bad base64 decode\)/,
    ],
    [
      'cert: chain whose second certificate is broken',
      () => ({ cert: certs.client.cert + breakBase64(certs.clientCa), key: certs.client.key }),
      /^switchyard: tls\.cert must be .*, but certificate 2 of 2 does not parse/,
    ],
    [
      'cert: truncated',
      () => ({ cert: certs.client.cert.slice(0, 200), key: certs.client.key }),
      /^switchyard: tls\.cert must be .*, but certificate 1 of 1 does not parse/,
    ],
    [
      'key: not PEM',
      () => ({ cert: certs.client.cert, key: 'not a key' }),
      /^switchyard: tls\.key must be a PEM private key, got a string of 9 characters with no PEM block, e\.g\. fs\.readFileSync\('client\.key'\)$/,
    ],
    [
      'key: broken base64 body',
      () => ({ cert: certs.client.cert, key: breakBase64(certs.client.key) }),
      /^switchyard: tls\.key must be a PEM private key, got a string of \d+ characters with a "PRIVATE KEY" block that does not parse as a private key \(/,
    ],
    [
      'key: a certificate',
      () => ({ cert: certs.client.cert, key: Buffer.from(certs.client.cert) }),
      /^switchyard: tls\.key must be a PEM private key, got a Buffer of \d+ bytes with a "CERTIFICATE" block that does not parse/,
    ],
    [
      'key: encrypted (PKCS#8)',
      () => ({ cert: certs.client.cert, key: clientKeyAs('pkcs8', true) }),
      /^switchyard: tls\.key is an encrypted private key, and switchyard has no passphrase option: give it decrypted, e\.g\. openssl pkey /,
    ],
    [
      'key: encrypted (traditional Proc-Type header)',
      () => ({ cert: certs.client.cert, key: Buffer.from(clientKeyAs('sec1', true)) }),
      /^switchyard: tls\.key is an encrypted private key/,
    ],
    [
      'cert and key of different pairs',
      () => ({ cert: certs.client.cert, key: certs.server.key }),
      /^switchyard: tls cert and key do not match: tls\.key is not the private key of the first certificate in tls\.cert$/,
    ],
    [
      'cert chain in the wrong order (CA first)',
      () => ({ cert: certs.clientCa + certs.client.cert, key: certs.client.key }),
      /^switchyard: tls cert and key do not match/,
    ],
    [
      'ca: not PEM',
      () => ({ ca: 'not a ca' }),
      /^switchyard: tls\.ca must be a PEM CA certificate or bundle, got a string of 8 characters with no PEM block, e\.g\. fs\.readFileSync\('ca\.pem'\)$/,
    ],
    ['ca: an empty Buffer', () => ({ ca: Buffer.alloc(0) }), /^switchyard: tls\.ca must be .*got a Buffer of 0 bytes with no PEM block/],
    ['ca: a private key', () => ({ ca: certs.server.key }), /^switchyard: tls\.ca must be .*with a "PRIVATE KEY" block/],
    ['ca: broken base64 body', () => ({ ca: breakBase64(certs.ca) }), /^switchyard: tls\.ca must be .*, but certificate 1 of 1 does not parse \(bad base64 decode\)/],
    [
      'ca: bundle whose second certificate is broken',
      () => ({ ca: certs.ca + breakBase64(certs.clientCa) }),
      /^switchyard: tls\.ca must be .*, but certificate 2 of 2 does not parse/,
    ],
    [
      'ca: array whose second entry is not PEM',
      () => ({ ca: [certs.ca, Buffer.from('garbage')] }),
      /^switchyard: tls\.ca\[1\] must be a PEM CA certificate or bundle, got a Buffer of 7 bytes with no PEM block/,
    ],
    [
      'ca: an empty list (would trust no CA)',
      () => ({ ca: [] }),
      /^switchyard: tls\.ca is an empty list, which trusts no CA; leave ca out to use Node's bundled roots/,
    ],
    [
      'ca: Node roots plus a broken certificate',
      () => ({ ca: [...rootCertificates, breakBase64(certs.ca)] }),
      new RegExp(`^switchyard: tls\\.ca\\[${rootCertificates.length}\\] must be .*does not parse`),
    ],
  ];

  it.each(INVALID_TLS)('rejects %s', (_case, tls, message) => {
    const err = thrownBy({ targets: HTTPS, tls: tls() });
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toMatch(message);
    expectNoKeyMaterial(err.message);
  });

  it('checks tls material for http: targets too (the same config may gain https targets)', () => {
    expect(thrownBy({ targets: T, tls: { ca: 'not a ca' } }).message).toMatch(/^switchyard: tls\.ca must be/);
  });

  /**
   * [case, tls option built once the certificates exist, whether it presents the client
   * certificate]. Each is checked against a real HTTPS upstream whose certificate is signed by
   * `certs.ca` and which asks for a client certificate: the request must succeed (so the CA was
   * trusted), and the client certificate must arrive verified when one is configured. The rows
   * about cert and key forms trust `certs.ca` too (or turn verification off) so they can connect.
   */
  const VALID_TLS: Array<[string, () => TlsOptions, boolean]> = [
    ['tls with cert and key', () => ({ verify: false, servername: false, cert: certs.client.cert, key: certs.client.key }), true],
    ['cert and key as Buffers', () => ({ ca: certs.ca, cert: Buffer.from(certs.client.cert), key: Buffer.from(certs.client.key) }), true],
    ['a cert chain (leaf, then its CA)', () => ({ ca: certs.ca, cert: certs.client.cert + certs.clientCa, key: certs.client.key }), true],
    ['a key in SEC1 (EC PRIVATE KEY) form', () => ({ ca: certs.ca, cert: certs.client.cert, key: clientKeyAs('sec1', false) }), true],
    [
      'CRLF line endings',
      () => ({ ca: certs.ca, cert: certs.client.cert.replace(/\n/g, '\r\n'), key: certs.client.key.replace(/\n/g, '\r\n') }),
      true,
    ],
    ['one ca', () => ({ ca: certs.ca }), false],
    ['a ca bundle of two certificates in one string', () => ({ ca: certs.clientCa + certs.ca }), false],
    ['a ca Buffer', () => ({ ca: Buffer.from(certs.ca) }), false],
    ['a ca array of a string and a Buffer', () => ({ ca: [certs.clientCa, Buffer.from(certs.ca)] }), false],
    ['Node roots plus a private ca', () => ({ ca: [...rootCertificates, certs.ca] }), false],
    ['a ca in TRUSTED CERTIFICATE form (openssl -trustout)', () => ({ ca: trustedForm(certs.ca) }), false],
    ['ca, cert and key together', () => ({ ca: certs.ca, cert: certs.client.cert, key: certs.client.key }), true],
  ];

  /** What the HTTPS upstream saw of the proxy's client certificate. */
  interface SeenClient {
    cn: string | undefined;
    authorized: boolean;
  }

  it.each(VALID_TLS)('accepts %s, and the upstream connection uses it', async (_case, tls, presentsCert) => {
    const seen: SeenClient[] = [];
    const upstream = https.createServer(
      { cert: certs.server.cert, key: certs.server.key, ca: certs.clientCa, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const socket = req.socket as TLSSocket;
        const cn: unknown = socket.getPeerCertificate().subject?.CN;
        seen.push({ cn: typeof cn === 'string' ? cn : undefined, authorized: socket.authorized });
        res.end('ok');
      },
    );
    const up = track(await serveOnLoopback(upstream));
    const mw = proxy({ targets: `https://127.0.0.1:${up.port}`, tls: tls() });
    created.push(mw);
    const res = await request(mw).get('/x');
    expect({ status: res.status, text: res.text }).toEqual({ status: 200, text: 'ok' });
    expect(seen).toEqual([presentsCert ? { cn: 'switchyard-client', authorized: true } : { cn: undefined, authorized: false }]);
  });
});
