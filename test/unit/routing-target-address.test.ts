import { describe, expect, it } from 'vitest';
import { createTarget } from '../../src/balancer/target.js';
import { socketOrigin, socketRouteOf, targetAddress } from '../../src/routing/target-address.js';

describe('targetAddress', () => {
  it.each([
    ['a TCP target dials its own origin', 'http://127.0.0.1:3001/v1', { origin: 'http://127.0.0.1:3001', host: '127.0.0.1:3001', prefix: '/v1', secure: false, socketPath: undefined }],
    ['wss: is dialled as https:', 'wss://h', { origin: 'https://h', host: 'h', prefix: '', secure: true, socketPath: undefined }],
    ['a socket target dials a socket origin', 'unix:/run/a.sock', { origin: socketOrigin(false, { socketPath: '/run/a.sock', hostname: 'localhost' }), host: 'localhost', prefix: '', secure: false, socketPath: '/run/a.sock' }],
  ])('%s', (_label, input, want) => {
    expect(targetAddress(createTarget(input))).toMatchObject(want);
  });

  it('gives socket targets with the same url but different sockets different origins (separate pools)', () => {
    const a = targetAddress(createTarget({ url: 'http://app', socketPath: '/run/a.sock' }));
    const b = targetAddress(createTarget({ url: 'http://app', socketPath: '/run/b.sock' }));
    expect(a.origin).not.toBe(b.origin);
    expect(a.host).toBe(b.host);
  });
});

describe('socketOrigin / socketRouteOf', () => {
  it.each([
    ['a plain path', false, { socketPath: '/run/app.sock', hostname: 'app' }],
    ['colons, spaces and non-ASCII in the path', true, { socketPath: '/tmp/a b:c/é.sock', hostname: 'api.internal' }],
    ['an IPv6 host name', true, { socketPath: 'rel.sock', hostname: '[::1]' }],
  ])('round-trips %s through a valid origin', (_label, secure, route) => {
    const origin = socketOrigin(secure, route);
    expect(new URL(origin).origin).toBe(origin);
    expect(origin.startsWith(secure ? 'https://' : 'http://')).toBe(true);
    expect(socketRouteOf(origin)).toEqual(route);
  });

  it.each(['http://127.0.0.1:3001', 'https://app.sock.invalid', 'http://zz.sock.invalid', 'http://7b7d.sock.invalid'])('%s is no socket origin', (origin) => {
    expect(socketRouteOf(origin)).toBeUndefined();
  });
});
