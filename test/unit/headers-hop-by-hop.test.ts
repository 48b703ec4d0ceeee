import { describe, expect, it } from 'vitest';
import { connectionTokens } from '../../src/headers/hop-by-hop.js';
import { filterResponseHeaders } from '../../src/headers/upstream-headers.js';

describe('a hop-by-hop response header does not reach the client', () => {
  // Each name as upstreams spell it, and upper-cased: the match ignores letter case.
  const names = ['Connection', 'Keep-Alive', 'Proxy-Connection', 'TE', 'Trailer', 'Transfer-Encoding', 'Upgrade', 'Proxy-Authorization', 'Proxy-Authenticate'];
  it.each(names.flatMap((n) => [n, n.toUpperCase()]))('%s', (name) => {
    const raw = ['Content-Type', 'text/plain', name, 'probe', 'X-End-To-End', 'yes'];
    expect(filterResponseHeaders(raw)).toEqual(['Content-Type', 'text/plain', 'X-End-To-End', 'yes']);
  });

  it('nor does a name that Connection lists, before or after Connection', () => {
    const raw = ['X-Early', 'a', 'Connection', 'close, X-Early, X-Late', 'X-Late', 'b', 'X-Kept', 'c'];
    expect(filterResponseHeaders(raw)).toEqual(['X-Kept', 'c']);
  });
});

describe('connectionTokens', () => {
  const cases: Array<[string, string | string[] | undefined, string[] | undefined]> = [
    ['no header', undefined, undefined],
    ['keep-alive', 'keep-alive', undefined],
    ['Keep-Alive', 'Keep-Alive', undefined],
    ['close', 'close', undefined],
    ['CLOSE (slow path)', 'CLOSE', undefined],
    ['Upgrade', 'Upgrade', undefined],
    ['empty', '', undefined],
    ['only commas and spaces', ' , ,', undefined],
    ['one extra name', 'X-Secret', ['x-secret']],
    ['hop-by-hop names are left out', 'keep-alive, TE, Upgrade', undefined],
    ['mixed, trimmed and lowercased', ' Keep-Alive ,  X-Forwarded-For,x-a ,close', ['x-forwarded-for', 'x-a']],
    ['array of headers', ['keep-alive, X-A', 'X-B'], ['x-a', 'x-b']],
    ['array with nothing extra', ['close', 'keep-alive'], undefined],
  ];
  it.each(cases)('%s', (_label, value, expected) => {
    expect(connectionTokens(value)).toEqual(expected);
  });
});
