import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { compileTrustProxy } from '../../src/headers/forwarded.js';
import { compileHeaderRules } from '../../src/headers/header-rules.js';
import { buildUpstreamHeaders, filterResponseHeaders, type RequestHeaderPlan } from '../../src/headers/upstream-headers.js';
import type { RequestContext } from '../../src/request-context.js';
import type { HeaderRules, TrustProxy } from '../../src/types.js';

function fakeCtx(headers: IncomingHttpHeaders, addr = '203.0.113.7'): RequestContext {
  const req = { headers, socket: { remoteAddress: addr } } as unknown as IncomingMessage;
  const host = typeof headers.host === 'string' ? headers.host : '';
  return { req, method: 'GET', path: '/', query: '', addr, scheme: 'http', host, params: undefined };
}

function plan(opts: { xfwd?: boolean; trustProxy?: TrustProxy; headers?: HeaderRules } = {}): RequestHeaderPlan {
  return {
    xfwd: opts.xfwd ?? false,
    isTrusted: compileTrustProxy(opts.trustProxy),
    rules: compileHeaderRules(opts.headers, 'headers'),
  };
}

describe('buildUpstreamHeaders', () => {
  const cases: Array<[string, IncomingHttpHeaders, RequestHeaderPlan, OutgoingHttpHeaders]> = [
    ['copies end-to-end headers', { accept: '*/*', 'user-agent': 'ua' }, plan(), { accept: '*/*', 'user-agent': 'ua' }],
    [
      'drops every hop-by-hop header',
      {
        accept: '*/*',
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
        'proxy-connection': 'keep-alive',
        trailer: 'x-checksum',
        'transfer-encoding': 'chunked',
        upgrade: 'h2c',
        'proxy-authorization': 'Basic abc',
        'proxy-authenticate': 'Basic',
      },
      plan(),
      { accept: '*/*' },
    ],
    ['drops host and expect', { host: 'front', expect: '100-continue', accept: 'a' }, plan(), { accept: 'a' }],
    [
      'drops names listed in Connection',
      { connection: 'close, X-Secret, x-other', 'x-secret': 's', 'x-other': 'o', 'x-kept': 'k' },
      plan(),
      { 'x-kept': 'k' },
    ],
    ['keeps te: trailers', { te: 'trailers', connection: 'TE' }, plan(), { te: 'trailers' }],
    ['keeps te: trailers in any case', { te: ' Trailers ' }, plan(), { te: 'trailers' }],
    ['drops other te values', { te: 'gzip, trailers' }, plan(), {}],
    ['drops te: deflate', { te: 'deflate' }, plan(), {}],
    [
      'drops content-length when transfer-encoding is present too',
      { 'content-length': '10', 'transfer-encoding': 'chunked', accept: 'a' },
      plan(),
      { accept: 'a' },
    ],
    ['keeps content-length alone', { 'content-length': '10' }, plan(), { 'content-length': '10' }],
    ['drops HTTP/2 pseudo-headers', { ':authority': 'x', accept: 'a' }, plan(), { accept: 'a' }],
    [
      'xfwd off passes client x-forwarded-* through',
      { 'x-forwarded-for': '1.1.1.1' },
      plan(),
      { 'x-forwarded-for': '1.1.1.1' },
    ],
    [
      'xfwd replaces forged values from an untrusted peer',
      { host: 'front', 'x-forwarded-for': '1.1.1.1', 'x-forwarded-host': 'evil', 'x-forwarded-proto': 'https' },
      plan({ xfwd: true }),
      { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'front' },
    ],
    [
      'xfwd appends to the chain from a trusted peer',
      { host: 'front', 'x-forwarded-for': '1.1.1.1', 'x-forwarded-proto': 'https' },
      plan({ xfwd: true, trustProxy: ['203.0.113.0/24'] }),
      { 'x-forwarded-for': '1.1.1.1, 203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'front' },
    ],
    [
      'xfwd from a peer outside the trusted list',
      { host: 'front', 'x-forwarded-for': '1.1.1.1' },
      plan({ xfwd: true, trustProxy: ['10.0.0.0/8'] }),
      { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'front' },
    ],
    [
      'Connection: X-Forwarded-For cannot strip the forwarded headers',
      { host: 'front', connection: 'X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto', 'x-forwarded-for': '1.1.1.1' },
      plan({ xfwd: true }),
      { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'front' },
    ],
    [
      'Connection: X-Forwarded-For from a trusted peer still gets a chain',
      { host: 'front', connection: 'x-forwarded-for', 'x-forwarded-for': '1.1.1.1' },
      plan({ xfwd: true, trustProxy: true }),
      { 'x-forwarded-for': '1.1.1.1, 203.0.113.7', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'front' },
    ],
    [
      'user rules run last: override forwarded, remove, add',
      { host: 'front', cookie: 'a=1', accept: 'a' },
      plan({ xfwd: true, headers: { 'X-Forwarded-Host': 'api.internal', Cookie: null, 'X-Client': '{addr}' } }),
      {
        accept: 'a',
        'x-forwarded-for': '203.0.113.7',
        'x-forwarded-proto': 'http',
        'x-forwarded-host': 'api.internal',
        'x-client': '203.0.113.7',
      },
    ],
    [
      'user rules can set a hop-by-hop name deliberately',
      { connection: 'keep-alive' },
      plan({ headers: { Connection: 'close' } }),
      { connection: 'close' },
    ],
  ];
  it.each(cases)('%s', (_label, headers, p, expected) => {
    const snapshot = structuredClone(headers);
    expect(buildUpstreamHeaders(fakeCtx(headers).req, p, fakeCtx(headers))).toEqual(expected);
    expect(headers).toEqual(snapshot);
  });

  it('returns a new object and copies array values', () => {
    const cookies = ['a=1', 'b=2'];
    const headers = { 'x-list': cookies } as unknown as IncomingHttpHeaders;
    const ctx = fakeCtx(headers);
    const out = buildUpstreamHeaders(ctx.req, plan(), ctx);
    expect(out).not.toBe(headers);
    expect(out['x-list']).toEqual(cookies);
    expect(out['x-list']).not.toBe(cookies);
  });

  it('gives the same result on a second call (retries start from the pristine request)', () => {
    const headers: IncomingHttpHeaders = { host: 'front', 'x-forwarded-for': '1.1.1.1' };
    const ctx = fakeCtx(headers);
    const p = plan({ xfwd: true, trustProxy: true });
    const first = buildUpstreamHeaders(ctx.req, p, ctx);
    expect(buildUpstreamHeaders(ctx.req, p, ctx)).toEqual(first);
    expect(first['x-forwarded-for']).toBe('1.1.1.1, 203.0.113.7');
  });

  it('treats an unknown peer address as untrusted', () => {
    const headers: IncomingHttpHeaders = { 'x-forwarded-for': '1.1.1.1' };
    const ctx = fakeCtx(headers, '');
    const out = buildUpstreamHeaders(ctx.req, plan({ xfwd: true, trustProxy: true }), ctx);
    expect(out).toEqual({ 'x-forwarded-proto': 'http' });
  });

  it('lets a throwing trustProxy function propagate', () => {
    const ctx = fakeCtx({});
    const p = plan({
      xfwd: true,
      trustProxy: () => {
        throw new Error('trust boom');
      },
    });
    expect(() => buildUpstreamHeaders(ctx.req, p, ctx)).toThrow('trust boom');
  });
});

describe('filterResponseHeaders', () => {
  const cases: Array<[string, string[], string[]]> = [
    ['empty', [], []],
    [
      'keeps letter case and order',
      ['Content-Type', 'text/plain', 'X-Custom-ID', '1', 'set-cookie', 'a=1', 'Set-Cookie', 'b=2'],
      ['Content-Type', 'text/plain', 'X-Custom-ID', '1', 'set-cookie', 'a=1', 'Set-Cookie', 'b=2'],
    ],
    [
      'drops hop-by-hop in any case',
      [
        'Connection', 'keep-alive',
        'Keep-Alive', 'timeout=5',
        'TRANSFER-ENCODING', 'chunked',
        'Trailer', 'X-Sum',
        'Upgrade', 'h2c',
        'Proxy-Authenticate', 'Basic',
        'proxy-authorization', 'x',
        'Proxy-Connection', 'close',
        'TE', 'trailers',
        'Date', 'today',
      ],
      ['Date', 'today'],
    ],
    [
      'drops names listed in Connection, even before it',
      ['X-Internal', 'secret', 'Date', 'today', 'Connection', 'close, X-Internal', 'X-Also', 'a', 'Connection', 'x-also'],
      ['Date', 'today'],
    ],
    ['keeps a same-length non-hop name', ['Keep-Alivx', '1', 'Connectiom', '2'], ['Keep-Alivx', '1', 'Connectiom', '2']],
    [
      'drops Alt-Svc in any case (issue 12), keeps Alt-Used and same-length names',
      ['Alt-Svc', 'h3=":443"', 'ALT-SVC', 'clear', 'Alt-Used', 'x', 'X-Alt-S', '1', 'Expires', '0'],
      ['Alt-Used', 'x', 'X-Alt-S', '1', 'Expires', '0'],
    ],
  ];
  it.each(cases)('%s', (_label, raw, expected) => {
    const copy = raw.slice();
    expect(filterResponseHeaders(raw)).toEqual(expected);
    expect(raw).toEqual(copy);
  });
});
