import { describe, expect, it } from 'vitest';
import { connectionTokens, HOP_BY_HOP } from '../../src/headers/hop-by-hop.js';

describe('HOP_BY_HOP', () => {
  it('holds the RFC 9110 hop-by-hop names plus proxy-connection and the proxy-auth pair, lowercase', () => {
    expect([...HOP_BY_HOP].sort()).toEqual(
      [
        'connection',
        'keep-alive',
        'proxy-authenticate',
        'proxy-authorization',
        'proxy-connection',
        'te',
        'trailer',
        'transfer-encoding',
        'upgrade',
      ].sort(),
    );
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
