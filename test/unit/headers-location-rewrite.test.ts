import { describe, expect, it } from 'vitest';
import { rewriteSetCookie } from '../../src/headers/cookie-rewrite.js';
import { afterPrefix, rewriteRefresh, rewriteUrl, type ClientView } from '../../src/headers/location-rewrite.js';

const view: ClientView = { prefix: '/v1', mount: '/api', origin: 'https://shop.example', target: new URL('http://10.0.0.5:8080/v1') };

describe('afterPrefix', () => {
  it('matches whole segments only', () => {
    expect(afterPrefix('/v1/a', '/v1')).toBe('/a');
    expect(afterPrefix('/v1', '/v1')).toBe('');
    expect(afterPrefix('/v1?x', '/v1')).toBe('?x');
    expect(afterPrefix('/v1#f', '/v1')).toBe('#f');
    expect(afterPrefix('/v10', '/v1')).toBeUndefined();
    expect(afterPrefix('/a', '')).toBe('/a');
  });
});

describe('rewriteUrl', () => {
  it.each([
    ['http://10.0.0.5:8080/v1/a?b#c', 'https://shop.example/api/a?b#c'],
    ['HTTP://10.0.0.5:8080/v1/a', 'https://shop.example/api/a'],
    ['http://10.0.0.5:8080/v1', 'https://shop.example/api'],
    ['//10.0.0.5:8080/v1/a', 'https://shop.example/api/a'],
    ['/v1/a', 'https://shop.example/api/a'],
    ['https://10.0.0.5:8080/v1/a', undefined], // another scheme is another origin
    ['http://10.0.0.5/v1/a', undefined],
    ['http://10.0.0.5:8080/v2/a', undefined],
    ['a/b', undefined],
    ['mailto:x@y', undefined],
    ['http://[bad/v1', undefined],
  ])('%s → %s', (from, to) => {
    expect(rewriteUrl(from, view)).toBe(to);
  });

  it('stays root-relative when the client sent no Host', () => {
    expect(rewriteUrl('/v1/a', { ...view, origin: '' })).toBe('/api/a');
    expect(rewriteUrl('/v1', { ...view, origin: '', mount: '' })).toBe('/');
  });

  it('treats a ws: target as its http: origin', () => {
    expect(rewriteUrl('http://10.0.0.5:8080/v1/a', { ...view, target: new URL('ws://10.0.0.5:8080/v1') })).toBe('https://shop.example/api/a');
  });
});

describe('rewriteRefresh', () => {
  it.each([
    ['5; url=/v1/a', '5; url=https://shop.example/api/a'],
    ['0;URL=/v1/a', '0;URL=https://shop.example/api/a'],
    ["0; url='/v1/a'", "0; url='https://shop.example/api/a'"],
    ['0; url = "http://10.0.0.5:8080/v1"', '0; url = "https://shop.example/api"'],
    ['5', undefined],
    ['5; url=/other', undefined],
  ])('%s → %s', (from, to) => {
    expect(rewriteRefresh(from, view)).toBe(to);
  });
});

describe('rewriteSetCookie', () => {
  it('keeps everything but the rewritten attributes byte for byte', () => {
    expect(rewriteSetCookie('a=x;y; Expires=Wed, 21 Oct 2037 07:28:00 GMT; DOMAIN=10.0.0.5; Path=/v1/q; SameSite=Lax', 'auto', view))
      .toBe('a=x;y; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Path=/api/q; SameSite=Lax');
    const same = 'a=1; Path=/elsewhere';
    expect(rewriteSetCookie(same, 'auto', view)).toBe(same);
  });

  it('maps explicit values, * for any other, and removes with an empty string', () => {
    const rw = { domain: new Map([['a.example', 'b.example'], ['*', '']]), path: undefined };
    expect(rewriteSetCookie('a=1; Domain=A.example; Path=/v1', rw, view)).toBe('a=1; Domain=b.example; Path=/v1');
    expect(rewriteSetCookie('a=1; Domain=c.example', rw, view)).toBe('a=1');
  });
});
