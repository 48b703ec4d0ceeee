import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientAddress, compileTrustProxy, setForwardedHeaders } from '../../src/headers/forwarded.js';
import type { TrustProxy } from '../../src/types.js';

function fakeReq(headers: IncomingHttpHeaders, remoteAddress?: string): IncomingMessage {
  return { headers, socket: { remoteAddress } } as unknown as IncomingMessage;
}

describe('compileTrustProxy', () => {
  const cases: Array<[string, TrustProxy | undefined, string, boolean]> = [
    ['undefined trusts no one', undefined, '127.0.0.1', false],
    ['false trusts no one', false, '127.0.0.1', false],
    ['true trusts everyone', true, '203.0.113.9', true],
    ['empty list trusts no one', [], '127.0.0.1', false],
    ['exact IPv4', ['127.0.0.1'], '127.0.0.1', true],
    ['exact IPv4, other address', ['127.0.0.1'], '127.0.0.2', false],
    ['IPv4 /8 inside', ['10.0.0.0/8'], '10.255.1.2', true],
    ['IPv4 /8 outside', ['10.0.0.0/8'], '11.0.0.1', false],
    ['IPv4 /12 edge inside', ['172.16.0.0/12'], '172.31.255.255', true],
    ['IPv4 /12 edge outside', ['172.16.0.0/12'], '172.32.0.0', false],
    ['IPv4 host bits in the entry are masked', ['10.1.2.3/8'], '10.9.9.9', true],
    ['IPv4 /0 matches all IPv4', ['0.0.0.0/0'], '255.255.255.255', true],
    ['IPv4 /32 high addresses (no sign issues)', ['255.255.255.254/32'], '255.255.255.254', true],
    ['IPv4 /31', ['192.168.1.0/31'], '192.168.1.1', true],
    ['IPv4 /31 outside', ['192.168.1.0/31'], '192.168.1.2', false],
    ['IPv4 entry does not match IPv6 peer', ['10.0.0.0/8'], '::1', false],
    ['IPv4-mapped peer matches IPv4 CIDR', ['10.0.0.0/8'], '::ffff:10.1.2.3', true],
    ['IPv4-mapped peer outside IPv4 CIDR', ['10.0.0.0/8'], '::ffff:11.1.2.3', false],
    ['IPv4-mapped peer in hex form', ['10.0.0.0/8'], '::ffff:a01:203', true],
    ['IPv4-mapped entry matches plain IPv4 peer', ['::ffff:10.0.0.0/104'], '10.2.3.4', true],
    ['IPv4-mapped entry, outside', ['::ffff:10.0.0.0/104'], '11.2.3.4', false],
    ['IPv6 loopback', ['::1'], '::1', true],
    ['IPv6 loopback, other address', ['::1'], '::2', false],
    ['IPv6 loopback does not match IPv4 loopback', ['::1'], '127.0.0.1', false],
    ['IPv6 fd00::/8 inside', ['fd00::/8'], 'fd12:3456::1', true],
    ['IPv6 fd00::/8 outside', ['fd00::/8'], 'fe80::1', false],
    ['IPv6 /64 inside', ['2001:db8:1:2::/64'], '2001:db8:1:2:ffff:ffff:ffff:ffff', true],
    ['IPv6 /64 outside', ['2001:db8:1:2::/64'], '2001:db8:1:3::1', false],
    ['IPv6 /127 across the last word', ['2001:db8::ff00/127'], '2001:db8::ff01', true],
    ['IPv6 /127 outside', ['2001:db8::ff00/127'], '2001:db8::ff02', false],
    ['IPv6 /33 word boundary', ['2001:db8:8000::/33'], '2001:db8:ffff::1', true],
    ['IPv6 /33 word boundary outside', ['2001:db8:8000::/33'], '2001:db8:7fff::1', false],
    ['IPv6 uppercase peer', ['fd00::/8'], 'FD00::ABCD', true],
    ['IPv6 full form peer', ['2001:db8::/32'], '2001:0db8:0000:0000:0000:0000:0000:0001', true],
    ['IPv6 trailing ::', ['2001:db8::/32'], '2001:db8::', true],
    ['IPv6 with zone id', ['fe80::/10'], 'fe80::1%eth0', true],
    ['IPv6 embedded IPv4 tail', ['64:ff9b::/96'], '64:ff9b::192.0.2.33', true],
    ['IPv6 ::/0 matches IPv6', ['::/0'], '2001:db8::1', true],
    ['IPv6 ::/0 matches a mapped peer', ['::/0'], '::ffff:1.2.3.4', true],
    ['list of several', ['192.168.0.0/16', '::1', '10.0.0.1'], '10.0.0.1', true],
    ['entries are trimmed', [' 10.0.0.1 '], '10.0.0.1', true],
    ['named loopback (Express) v4', ['loopback'], '127.5.5.5', true],
    ['named loopback (Express) v6', ['loopback'], '::1', true],
    ['named uniquelocal', ['uniquelocal'], '192.168.3.4', true],
    ['named linklocal', ['linklocal'], 'fe80::abcd', true],
    ['named uniquelocal, public peer', ['uniquelocal'], '8.8.8.8', false],
    ['unparseable peer', ['10.0.0.0/8'], 'not-an-ip', false],
    ['empty peer', ['0.0.0.0/0', '::/0'], '', false],
    ['function true', (ip: string) => ip === '1.2.3.4', '1.2.3.4', true],
    ['function false', (ip: string) => ip === '1.2.3.4', '1.2.3.5', false],
  ];
  it.each(cases)('%s', (_label, option, ip, expected) => {
    expect(compileTrustProxy(option)(ip)).toBe(expected);
  });

  it('lets a throw from the function propagate', () => {
    const isTrusted = compileTrustProxy(() => {
      throw new Error('boom');
    });
    expect(() => isTrusted('1.2.3.4')).toThrow('boom');
  });

  const invalid: Array<[unknown, string]> = [
    [['10.0.0.0/33'], "'10.0.0.0/33'"],
    [['::1/129'], "'::1/129'"],
    [['10.0.0.0/'], "'10.0.0.0/'"],
    [['10.0.0.0/-1'], "'10.0.0.0/-1'"],
    [['10.0.0.0/8/8'], "'10.0.0.0/8/8'"],
    [['10.0.0.0/ 8'], "'10.0.0.0/ 8'"],
    [['256.0.0.1'], "'256.0.0.1'"],
    [['localhost'], "'localhost'"],
    [[''], "''"],
    [['fe80::1%eth0'], "'fe80::1%eth0'"],
    [['10.0.0.1', 42], '42'],
  ];
  it.each(invalid)('rejects %j', (option, shown) => {
    expect(() => compileTrustProxy(option as TrustProxy)).toThrow(TypeError);
    expect(() => compileTrustProxy(option as TrustProxy)).toThrow(
      `switchyard: trustProxy has an invalid entry ${shown}; use IPs or CIDRs, e.g. ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8']`,
    );
  });

  it('rejects an option that is not a boolean, array or function', () => {
    expect(() => compileTrustProxy('10.0.0.0/8' as unknown as TrustProxy)).toThrow(
      /^switchyard: trustProxy must be a boolean, an array of IPs or CIDRs or a function of the peer IP, got string, e\.g\. \[/,
    );
  });
});

describe('clientAddress', () => {
  const cases: Array<[string | undefined, string]> = [
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['::1', '::1'],
    ['::ffff:a01:203', '::ffff:a01:203'],
    ['2001:db8::1', '2001:db8::1'],
    [undefined, ''],
  ];
  it.each(cases)('%s → %s', (remote, expected) => {
    expect(clientAddress(fakeReq({}, remote))).toBe(expected);
  });

  it('returns "" without a socket', () => {
    expect(clientAddress({ headers: {} } as unknown as IncomingMessage)).toBe('');
  });
});

describe('setForwardedHeaders', () => {
  type Ctx = { addr: string; scheme: 'http' | 'https'; host: string };
  const ctx: Ctx = { addr: '203.0.113.7', scheme: 'https', host: 'app.example' };
  const forged: IncomingHttpHeaders = {
    'x-forwarded-for': '1.1.1.1',
    'x-forwarded-proto': 'gopher',
    'x-forwarded-host': 'evil.example',
  };
  const cases: Array<[string, IncomingHttpHeaders, Ctx, boolean, OutgoingHttpHeaders]> = [
    [
      'untrusted, nothing sent',
      {},
      ctx,
      false,
      { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example' },
    ],
    [
      'untrusted, forged values are replaced',
      forged,
      ctx,
      false,
      { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example' },
    ],
    [
      'trusted, chain appended and client proto/host kept',
      forged,
      ctx,
      true,
      { 'x-forwarded-for': '1.1.1.1, 203.0.113.7', 'x-forwarded-proto': 'gopher', 'x-forwarded-host': 'evil.example' },
    ],
    [
      'trusted, longer chain',
      { 'x-forwarded-for': '1.1.1.1, 2.2.2.2' },
      ctx,
      true,
      { 'x-forwarded-for': '1.1.1.1, 2.2.2.2, 203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example' },
    ],
    [
      'trusted, chain given as an array',
      { 'x-forwarded-for': ['1.1.1.1', '2.2.2.2'] as unknown as string },
      ctx,
      true,
      { 'x-forwarded-for': '1.1.1.1, 2.2.2.2, 203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example' },
    ],
    [
      'trusted, nothing sent: ours',
      {},
      ctx,
      true,
      { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example' },
    ],
    [
      'trusted, empty client values fall back to ours',
      { 'x-forwarded-for': ' ', 'x-forwarded-proto': '', 'x-forwarded-host': '' },
      ctx,
      true,
      { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example' },
    ],
    [
      'untrusted, unknown addr and host are left out',
      forged,
      { addr: '', scheme: 'http', host: '' },
      false,
      { 'x-forwarded-proto': 'http' },
    ],
    [
      'trusted, unknown addr keeps the chain',
      { 'x-forwarded-for': '1.1.1.1' },
      { addr: '', scheme: 'http', host: 'h' },
      true,
      { 'x-forwarded-for': '1.1.1.1', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'h' },
    ],
  ];
  it.each(cases)('%s', (_label, headers, c, trusted, expected) => {
    const snapshot = structuredClone(headers);
    // `out` starts as a copy, as buildUpstreamHeaders leaves it: the client's values must be overwritten.
    const out: OutgoingHttpHeaders = { ...headers, accept: '*/*' };
    setForwardedHeaders(out, fakeReq(headers, c.addr), c, trusted);
    expect(out).toEqual({ ...expected, accept: '*/*' });
    expect(headers).toEqual(snapshot);
  });
});
