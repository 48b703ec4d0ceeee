import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  applyRequestHeaderRules,
  applyResponseHeaderRules,
  compileHeaderRules,
  escapeHeaderValue,
} from '../../src/headers/header-rules.js';
import type { RequestContext } from '../../src/request-context.js';
import type { HeaderRules } from '../../src/types.js';

function fakeCtx(headers: IncomingHttpHeaders = {}, params?: Record<string, string>): RequestContext {
  const req = { headers, socket: { remoteAddress: '10.0.0.5' } } as unknown as IncomingMessage;
  return { req, method: 'GET', path: '/a/b', query: '?x=1', addr: '10.0.0.5', scheme: 'http', host: 'front.example', params };
}

/** Records setHeader/removeHeader like a ServerResponse (names are case-insensitive there too). */
function fakeRes(initial: Record<string, string> = {}): { res: ServerResponse; sent: Map<string, [string, string]> } {
  const sent = new Map<string, [string, string]>();
  for (const [k, v] of Object.entries(initial)) sent.set(k.toLowerCase(), [k, v]);
  const res = {
    setHeader(name: string, value: string) {
      sent.set(name.toLowerCase(), [name, value]);
      return res;
    },
    removeHeader(name: string) {
      sent.delete(name.toLowerCase());
    },
  } as unknown as ServerResponse;
  return { res, sent };
}

function request(rules: HeaderRules, ctx = fakeCtx(), out: OutgoingHttpHeaders = {}): OutgoingHttpHeaders {
  const compiled = compileHeaderRules(rules, 'headers');
  if (compiled === undefined) throw new Error('expected rules');
  applyRequestHeaderRules(compiled, out, ctx);
  return out;
}

describe('escapeHeaderValue', () => {
  const cases: Array<[string, string]> = [
    ['plain', 'plain'],
    ['tab\tkept', 'tab\tkept'],
    ['a\r\nX-Injected: 1', 'aX-Injected: 1'],
    ['nul\0byte', 'nulbyte'],
    ['bell\x07 and del\x7f', 'bell and del'],
    ['latin1 café', 'latin1 café'],
    ['beyond latin1 ☃', 'beyond latin1 '],
  ];
  it.each(cases)('%j → %j', (input, expected) => {
    expect(escapeHeaderValue(input)).toBe(expected);
  });
});

describe('compileHeaderRules', () => {
  it('returns undefined for no rules', () => {
    expect(compileHeaderRules(undefined, 'headers')).toBeUndefined();
    expect(compileHeaderRules({}, 'responseHeaders')).toBeUndefined();
  });

  it('sorts rules by kind with lowercase names and the user spelling', () => {
    const fn = () => 'x';
    const rules = compileHeaderRules({ 'X-Gone': null, 'X-Const': 'c', 'X-Tpl': '{addr}', 'X-Fn': fn }, 'responseHeaders');
    expect(rules?.remove).toEqual(['x-gone']);
    expect(rules?.constants).toEqual([{ name: 'x-const', spelled: 'X-Const', value: 'c' }]);
    expect(rules?.templates.map((r) => [r.name, r.spelled, r.render(fakeCtx())])).toEqual([['x-tpl', 'X-Tpl', '10.0.0.5']]);
    expect(rules?.functions.map((r) => [r.name, r.spelled, r.fn])).toEqual([['x-fn', 'X-Fn', fn]]);
  });

  const invalid: Array<[string, unknown, 'headers' | 'responseHeaders', string | RegExp]> = [
    [
      'invalid name (space)',
      { 'X Foo': 'a' },
      'headers',
      "switchyard: headers has an invalid header name 'X Foo'; names are RFC 9110 tokens such as 'X-Request-Id'",
    ],
    [
      'invalid name (colon)',
      { 'X-Foo:': 'a' },
      'responseHeaders',
      "switchyard: responseHeaders has an invalid header name 'X-Foo:'; names are RFC 9110 tokens such as 'X-Request-Id'",
    ],
    ['empty name', { '': 'a' }, 'headers', "switchyard: headers has an invalid header name ''"],
    ['CRLF in a constant', { 'X-A': 'a\r\nX-B: b' }, 'headers', "switchyard: headers['X-A'] contains a character not allowed in a header value"],
    ['NUL in a constant', { 'X-A': 'a\0' }, 'responseHeaders', "switchyard: responseHeaders['X-A'] contains a character not allowed"],
    ['CR in a template literal part', { 'X-A': '{addr}\r' }, 'headers', "switchyard: headers['X-A'] contains a character not allowed"],
    ['non-latin1 constant', { 'X-A': '☃' }, 'headers', "switchyard: headers['X-A'] contains a character not allowed"],
    [
      'unknown placeholder names the header',
      { 'X-A': '{nope}' },
      'headers',
      "switchyard: headers['X-A'] has an unknown placeholder {nope}",
    ],
    [
      'same name twice in different case',
      { 'X-A': 'a', 'x-a': 'b' },
      'headers',
      "switchyard: headers lists 'X-A' and 'x-a'; header names are case-insensitive, keep one",
    ],
    [
      'number value',
      { 'X-A': 42 },
      'headers',
      "switchyard: headers['X-A'] must be a string, null or a function of the request, got number, e.g. { 'X-A': 'value' }",
    ],
    [
      'undefined value',
      { 'X-A': undefined },
      'responseHeaders',
      "switchyard: responseHeaders['X-A'] must be a string, null or a function of the request, got undefined, e.g. { 'X-A': 'value' }",
    ],
    ...(['Transfer-Encoding', 'Keep-Alive', 'Upgrade', 'Proxy-Connection', 'HTTP2-Settings', 'TE'] as const).map(
      (name): [string, unknown, 'headers' | 'responseHeaders', string] => [
        `${name}: a transport header set on upstream requests`,
        { [name]: () => 'x' },
        'headers',
        `switchyard: headers['${name}'] is a hop-by-hop header the transport manages per connection; it cannot be set on upstream requests (null removes it)`,
      ],
    ),
    ['rules not an object', 'X-A: b', 'headers', /^switchyard: headers must be an object of header name/],
    ['rules an array', [['X-A', 'b']], 'responseHeaders', /^switchyard: responseHeaders must be an object of header name/],
  ];
  it.each(invalid)('rejects %s', (_label, rules, option, message) => {
    expect(() => compileHeaderRules(rules as HeaderRules, option)).toThrow(TypeError);
    expect(() => compileHeaderRules(rules as HeaderRules, option)).toThrow(message);
  });

  it('accepts removing transport headers, TE: trailers, Connection, and any of them on responses', () => {
    expect(compileHeaderRules({ Upgrade: null, 'Transfer-Encoding': null, TE: 'trailers', Connection: 'close' }, 'headers')).toMatchObject({
      remove: ['upgrade', 'transfer-encoding'],
      constants: [{ name: 'te', value: 'trailers' }, { name: 'connection', value: 'close' }],
    });
    expect(compileHeaderRules({ Upgrade: 'h2c', 'Keep-Alive': 'timeout=5' }, 'responseHeaders')?.constants).toHaveLength(2);
  });

  // Regression: hasPlaceholder() left the shared regex's lastIndex dirty, so the next
  // compilePlaceholders() skipped the start of the template and kept it as literal text.
  it('compiles every template of a rule set, not only the first', () => {
    const rules = compileHeaderRules({ 'X-A': '{addr}', 'X-B': '{addr}', 'X-C': '{method}' }, 'headers');
    expect(rules?.templates.map((r) => r.render(fakeCtx()))).toEqual(['10.0.0.5', '10.0.0.5', 'GET']);
  });

  it('allows a tab in a constant', () => {
    expect(compileHeaderRules({ 'X-A': 'a\tb' }, 'headers')?.constants[0]?.value).toBe('a\tb');
  });
});

describe('applyRequestHeaderRules', () => {
  const ctx = fakeCtx(
    { 'x-user': 'alice\r\nX-Admin: yes', 'x-multi': ['a', 'b'] as unknown as string },
    { id: '7\r\nX-Evil: 1' },
  );
  const cases: Array<[string, HeaderRules, OutgoingHttpHeaders, OutgoingHttpHeaders]> = [
    ['constant sets with a lowercase key', { 'X-Api-Key': 'secret' }, {}, { 'x-api-key': 'secret' }],
    ['constant overwrites the client value', { Accept: 'text/plain' }, { accept: '*/*' }, { accept: 'text/plain' }],
    ['null removes', { Cookie: null }, { cookie: 'a=1', accept: '*/*' }, { accept: '*/*' }],
    ['null on an absent header is fine', { 'X-None': null }, { a: '1' }, { a: '1' }],
    [
      'placeholders render per request',
      { 'X-Info': '{method} {scheme}://{host}{path}{query} from {addr}' },
      {},
      { 'x-info': 'GET http://front.example/a/b?x=1 from 10.0.0.5' },
    ],
    ['CRLF from {header.X} is stripped', { 'X-Who': 'u={header.X-User}' }, {}, { 'x-who': 'u=aliceX-Admin: yes' }],
    ['CRLF from {param.X} is stripped', { 'X-Id': '{param.id}' }, {}, { 'x-id': '7X-Evil: 1' }],
    ['absent header placeholder is empty', { 'X-Who': '[{header.missing}]' }, {}, { 'x-who': '[]' }],
    ['repeated header placeholder joins', { 'X-M': '{header.x-multi}' }, {}, { 'x-m': 'a, b' }],
    ['function result sets', { 'X-Fn': (req) => String(req.headers['x-user']?.length) }, {}, { 'x-fn': '19' }],
    ['function undefined leaves the header', { Accept: () => undefined }, { accept: '*/*' }, { accept: '*/*' }],
    [
      'function null removes (for JavaScript callers)',
      { Accept: () => null as unknown as undefined },
      { accept: '*/*' },
      {},
    ],
    ['function result with CRLF is sanitised', { 'X-Fn': () => 'a\r\nX-Injected: 1\0' }, {}, { 'x-fn': 'aX-Injected: 1' }],
  ];
  it.each(cases)('%s', (_label, rules, start, expected) => {
    expect(request(rules, ctx, { ...start })).toEqual(expected);
  });

  it('calls functions with req', () => {
    let seen: IncomingMessage | undefined;
    request({ 'X-A': (req) => ((seen = req), 'v') }, ctx);
    expect(seen).toBe(ctx.req);
  });

  it('lets a throwing function propagate', () => {
    expect(() =>
      request({
        'X-A': () => {
          throw new Error('user boom');
        },
      }),
    ).toThrow('user boom');
  });

  it('throws naming the header when a function returns a non-string', () => {
    expect(() => request({ 'X-A': () => 5 as unknown as string })).toThrow(
      "switchyard: headers['X-A'] returned number; return a string (or an array of strings), or undefined to leave the header as it is",
    );
  });

  it('never touches req.headers', () => {
    const headers: IncomingHttpHeaders = { accept: '*/*', cookie: 'a' };
    request({ Accept: 'x', Cookie: null, 'X-New': () => 'n' }, fakeCtx(headers));
    expect(headers).toEqual({ accept: '*/*', cookie: 'a' });
  });
});

describe('applyResponseHeaderRules', () => {
  function respond(rules: HeaderRules, initial: Record<string, string> = {}, ctx = fakeCtx()): Array<[string, string]> {
    const compiled = compileHeaderRules(rules, 'responseHeaders');
    if (compiled === undefined) throw new Error('expected rules');
    const { res, sent } = fakeRes(initial);
    applyResponseHeaderRules(compiled, res, ctx);
    return [...sent.values()];
  }

  const cases: Array<[string, HeaderRules, Record<string, string>, Array<[string, string]>]> = [
    ['sets in the user spelling', { 'X-Served-By': 'switchyard' }, {}, [['X-Served-By', 'switchyard']]],
    ['replaces an upstream header case-insensitively', { 'X-Powered-By': 'us' }, { 'x-powered-by': 'them' }, [['X-Powered-By', 'us']]],
    ['null removes', { Server: null }, { server: 'nginx', 'content-type': 'text/plain' }, [['content-type', 'text/plain']]],
    ['template', { 'X-Client': '{addr}' }, {}, [['X-Client', '10.0.0.5']]],
    ['function', { 'X-Method': (req) => (req.headers.accept === undefined ? 'none' : 'some') }, {}, [['X-Method', 'none']]],
    ['function undefined keeps', { Server: () => undefined }, { server: 'nginx' }, [['server', 'nginx']]],
    ['function null removes', { Server: () => null as unknown as undefined }, { server: 'nginx' }, []],
    ['function result sanitised', { 'X-A': () => 'v\r\nSet-Cookie: x=1' }, {}, [['X-A', 'vSet-Cookie: x=1']]],
  ];
  it.each(cases)('%s', (_label, rules, initial, expected) => {
    expect(respond(rules, initial)).toEqual(expected);
  });

  it('throws naming responseHeaders when a function returns a non-string', () => {
    expect(() => respond({ 'X-A': () => ({}) as unknown as string })).toThrow(
      "switchyard: responseHeaders['X-A'] returned object",
    );
  });
});
