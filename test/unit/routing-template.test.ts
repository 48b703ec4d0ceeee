import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { RequestContext } from '../../src/request-context.js';
import { compilePlaceholders, hasPlaceholder } from '../../src/routing/placeholders.js';
import { resolveSafePath } from '../../src/routing/safe-path.js';
import { compileTemplate } from '../../src/routing/template.js';

function fakeContext(over: Partial<RequestContext> = {}, headers: Record<string, string | string[]> = {}): RequestContext {
  return {
    req: { headers } as unknown as IncomingMessage,
    method: 'GET',
    path: '/users/42',
    query: '?a=1&b=%2F',
    addr: '10.0.0.7',
    scheme: 'http',
    host: 'front.example:8080',
    params: { id: '42', name: 'a b/c' },
    ...over,
  };
}

describe('compileTemplate', () => {
  it.each([
    ['/v2{path}{query}', undefined, '/v2/users/42?a=1&b=%2F'],
    ['{path}{query}', undefined, '/users/42?a=1&b=%2F'],
    ['{path}', undefined, '/users/42'],
    ['/static', undefined, '/static'],
    ['/m/{method}{path}', undefined, '/m/GET/users/42'],
    ['/{scheme}/{host}/{addr}', undefined, '/http/front.example%3A8080/10.0.0.7'],
    ['/p/{param.id}/{param.name}', undefined, '/p/42/a%20b%2Fc'],
    ['/p/{param.missing}x', undefined, '/p/x'],
    ['/t/{header.x-tenant}{path}', undefined, '/t/acme/users/42'],
    ['/h/{header.X-Multi}', undefined, '/h/a%2C%20b'],
    ['/q?user={param.id}&{query}', undefined, '/q?user=42&?a=1&b=%2F'],
    ['http://127.0.0.1:3001/v2{path}{query}', 'http://127.0.0.1:3001', '/v2/users/42?a=1&b=%2F'],
    ['http://127.0.0.1:3001{path}{query}', 'http://127.0.0.1:3001', '/users/42?a=1&b=%2F'],
    ['https://Backend.Example:443/x{path}', 'https://backend.example', '/x/users/42'],
    ['HTTP://h:80/', 'http://h', '/'],
    ['ws://h:9000/socket{query}', 'ws://h:9000', '/socket?a=1&b=%2F'],
    ['wss://h/socket', 'wss://h', '/socket'],
    ['http://[::1]:3001/{path}', 'http://[::1]:3001', '//users/42'],
  ])('%j → origin %j, renders %j', (to, origin, rendered) => {
    const template = compileTemplate(to);
    expect(template.origin).toBe(origin);
    expect(template.render(fakeContext({}, { 'x-tenant': 'acme', 'x-multi': ['a', 'b'] }))).toBe(rendered);
  });

  it('inserts {path} and {query} raw but encodes every other value', () => {
    const template = compileTemplate('/x/{header.x-evil}/{param.p}{path}{query}');
    const ctx = fakeContext(
      { path: '/a%2Fb/%20', query: '?q=%0d', params: { p: '..' } },
      { 'x-evil': '../../admin\r\nX-Injected: 1' },
    );
    expect(template.render(ctx)).toBe('/x/..%2F..%2Fadmin%0D%0AX-Injected%3A%201/../a%2Fb/%20?q=%0d');
  });

  it('can render dot segments from values, which resolveSafePath on the result catches', () => {
    const template = compileTemplate('/t/{param.p}/{param.p}/{param.p}{path}');
    const rendered = template.render(fakeContext({ path: '/x', params: { p: '..' } }));
    expect(rendered).toBe('/t/../../../x');
    expect(resolveSafePath(rendered)).toBeUndefined();
  });

  it('renders an empty query as nothing', () => {
    expect(compileTemplate('/v2{path}{query}').render(fakeContext({ query: '' }))).toBe('/v2/users/42');
  });

  it('does not throw on a lone surrogate in a value', () => {
    const ctx = fakeContext({ params: { p: 'a\uD800b' } });
    expect(compileTemplate('/{param.p}').render(ctx)).toBe('/a%EF%BF%BDb');
  });

  it.each([
    ['http://{header.host}/x', /^switchyard: to has a placeholder in its scheme, host or port .*placeholders are allowed only in the path and query/],
    ['http://h:{param.p}/', /^switchyard: to has a placeholder in its scheme, host or port/],
    ['{scheme}://h/', /^switchyard: to has a placeholder in its scheme, host or port/],
    ['http://h{header.x}/y', /^switchyard: to has a placeholder in its scheme, host or port/],
    ['/x/{nope}', /^switchyard: to has an unknown placeholder \{nope\}/],
    ['/x/{header}', /^switchyard: to has an unknown placeholder \{header\}/],
    ['/x/{path.a}', /^switchyard: to has an unknown placeholder \{path\.a\}/],
    ['v2{path}', /^switchyard: to must be a path starting with "\/" or "\{path\}", or an absolute http\(s\) or ws\(s\) URL, e\.g\./],
    ['{query}{path}', /^switchyard: to must be a path starting with/],
    ['{header.x}/y', /^switchyard: to must be a path starting with/],
    ['', /^switchyard: to must be a path starting with/],
    ['http://h', /^switchyard: to path must start with "\/" or "\{path\}", got "", e\.g\./],
    ['http://h?x=1', /^switchyard: to path must start with "\/" or "\{path\}", got "\?x=1"/],
    ['http://h{query}', /^switchyard: to path must start with/],
    ['http://h\\evil/x', /^switchyard: to path must start with/],
    ['ftp://h/x', /^switchyard: to must use http, https, ws or wss, got "ftp:"/],
    ['http:///x', /^switchyard: to has an invalid host or port \(""\)/],
    ['http://h:99999/x', /^switchyard: to has an invalid host or port \("h:99999"\)/],
    ['http://user:pw@h/x', /^switchyard: to must not contain credentials/],
    ['/x#frag', /^switchyard: to must not contain a fragment/],
    ['/a b{path}', /^switchyard: to must not contain spaces or control characters/],
    ['/a\r\n{path}', /^switchyard: to must not contain spaces or control characters/],
  ])('rejects %j', (to, message) => {
    expect(() => compileTemplate(to)).toThrow(TypeError);
    expect(() => compileTemplate(to)).toThrow(message);
  });

  it('rejects a non-string', () => {
    expect(() => compileTemplate(42 as unknown as string)).toThrow(/^switchyard: to must be a string, got number/);
  });
});

describe('placeholders', () => {
  // Regression: a true hasPlaceholder() left the shared regex's lastIndex set, and the next
  // compilePlaceholders() (matchAll copies lastIndex) skipped placeholders before it.
  it('hasPlaceholder does not make the next compile skip placeholders', () => {
    expect(hasPlaceholder('{addr} and more text here')).toBe(true);
    const render = compilePlaceholders('{method}/x', 'headers', (v) => v);
    expect(render({ method: 'GET' } as unknown as RequestContext)).toBe('GET/x');
  });
});
