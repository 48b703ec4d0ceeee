import { createHash, createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { roundRobin } from '../../src/balancer/factories.js';
import { createCookieBalancer, stickyCookie } from '../../src/balancer/policies/cookie.js';
import type { LiveBalancer } from '../../src/balancer/balancer.js';
import type { ProxyTarget } from '../../src/types.js';
import { byName, letteredTargets } from '../helpers/balancer.js';

const ATTRIBUTES = '; Path=/; HttpOnly; SameSite=Lax';

function request(cookie?: string): IncomingMessage {
  return { headers: cookie === undefined ? {} : { cookie } } as unknown as IncomingMessage;
}

function pool(n: number, secret?: string): LiveBalancer {
  return createCookieBalancer(letteredTargets(n), 'sid', secret, 'targets');
}

const sha = (name: string): string => createHash('sha256').update(name).digest('hex').slice(0, 16);
const hmac = (secret: string, name: string): string => createHmac('sha256', secret).update(name).digest('hex').slice(0, 16);

/** Picks for `req` `n` times: names, and what the response would set each time. */
function visit(b: LiveBalancer, req: IncomingMessage, n = 1): Array<[string, string | undefined]> {
  const out: Array<[string, string | undefined]> = [];
  for (let i = 0; i < n; i++) {
    const t = b.next(req);
    out.push([t?.name ?? '-', t === undefined ? undefined : stickyCookie(b, req, t)]);
  }
  return out;
}

describe('cookie (sticky sessions)', () => {
  it('without a cookie picks round robin and sets the cookie of the target chosen', () => {
    const b = pool(3);
    expect(visit(b, request(), 4)).toEqual([
      ['a', `sid=${sha('a')}${ATTRIBUTES}`],
      ['b', `sid=${sha('b')}${ATTRIBUTES}`],
      ['c', `sid=${sha('c')}${ATTRIBUTES}`],
      ['a', `sid=${sha('a')}${ATTRIBUTES}`],
    ]);
  });

  it('ids are HMAC-SHA256 of the name with a secret, and never show the URL', () => {
    const plain = pool(2);
    const signed = pool(2, 's3cret');
    const [, setPlain] = visit(plain, request())[0] as [string, string];
    const [, setSigned] = visit(signed, request())[0] as [string, string];
    expect(setSigned).toBe(`sid=${hmac('s3cret', 'a')}${ATTRIBUTES}`);
    expect(setSigned).not.toBe(setPlain);
    expect(setPlain).toMatch(/^sid=[0-9a-f]{16}; Path=\/; HttpOnly; SameSite=Lax$/);
    for (const header of [setPlain, setSigned]) expect(header).not.toMatch(/127\.0\.0\.1|3001|http/);
  });

  it.each<[string, (id: string) => string, string, boolean]>([
    ['the only cookie', (id) => `sid=${id}`, 'c', true],
    ['among others', (id) => `a=1; sid=${id}; z=2`, 'c', true],
    ['without spaces, value padded', (id) => `a=1;sid=${id} ;b=2`, 'c', true],
    ['the first of two wins', (id) => `sid=${id}; sid=${sha('a')}`, 'c', true],
    ['a name that only ends in sid', (id) => `xsid=${id}`, 'a', false],
    ['a value that contains sid=', (id) => `other=sid=${id}`, 'a', false],
    ['a forged value', () => 'sid=forged', 'a', false],
    ['a valid id with a suffix', (id) => `sid=${id}0`, 'a', false],
    ['an empty value', () => 'sid=', 'a', false],
    ['a quoted value', (id) => `sid="${id}"`, 'a', false],
    ['the id of another balancer (a secret changes ids)', () => `sid=${hmac('other', 'c')}`, 'a', false],
  ])('a Cookie header with %s', (_label, header, want, valid) => {
    const b = pool(3);
    const req = request(header(sha('c')));
    const [[name, setCookie]] = visit(b, req) as [[string, string | undefined]];
    expect(name).toBe(want);
    // A valid cookie is not set again; anything else is treated as absent and replaced.
    expect(setCookie).toBe(valid ? undefined : `sid=${sha(want)}${ATTRIBUTES}`);
  });

  it('a valid cookie keeps its target on every request', () => {
    const b = pool(3);
    const req = request(`sid=${sha('b')}`);
    expect(visit(b, req, 5)).toEqual(Array.from({ length: 5 }, () => ['b', undefined]));
  });

  it.each<[string, (b: LiveBalancer) => ReadonlySet<ProxyTarget> | undefined]>([
    ['unhealthy', (b) => { byName(b, 'b').healthy = false; return undefined; }],
    ['full', (b) => { byName(b, 'b').maxConns = 1; byName(b, 'b').active = 1; return undefined; }],
    ['already tried (a retry)', (b) => new Set<ProxyTarget>([byName(b, 'b')])],
    ['removed', (b) => { b.remove('b'); return undefined; }],
  ])('when its target is %s, picks anew and sets a new cookie', (_label, takeDown) => {
    const b = pool(3);
    const req = request(`sid=${sha('b')}`);
    const exclude = takeDown(b);
    const t = b.next(req, exclude);
    expect(t?.name).toBe('a');
    expect(stickyCookie(b, req, t as ProxyTarget)).toBe(`sid=${sha('a')}${ATTRIBUTES}`);
  });

  it('goes back to its target once it is healthy again', () => {
    const b = pool(3);
    const req = request(`sid=${sha('b')}`);
    byName(b, 'b').healthy = false;
    expect(b.next(req)?.name).not.toBe('b');
    byName(b, 'b').healthy = true;
    expect(visit(b, req)).toEqual([['b', undefined]]);
  });

  it('recognises a target added at run time, and its cookie', () => {
    const b = pool(1);
    b.add({ url: 'http://127.0.0.1:4000', name: 'new' });
    expect(visit(b, request(`sid=${sha('new')}`), 2)).toEqual([['new', undefined], ['new', undefined]]);
  });

  it('weights apply to the round robin of requests without a cookie', () => {
    const b = createCookieBalancer(
      [{ url: 'http://127.0.0.1:3001', name: 'a', weight: 2 }, { url: 'http://127.0.0.1:3002', name: 'b', weight: 0 }],
      'sid', undefined, 'targets',
    );
    expect(visit(b, request(`sid=${sha('b')}`), 3).map(([n]) => n).join('')).toBe('aaa');
  });

  it('stickyCookie sets nothing for other balancers or targets it did not create', () => {
    const rr = roundRobin(['http://127.0.0.1:3001']);
    expect(stickyCookie(rr, request(), rr.targets[0] as ProxyTarget)).toBeUndefined();
    const foreign: ProxyTarget = { url: new URL('http://x:1'), name: 'a', weight: 1, meta: {}, healthy: true, active: 0 };
    expect(stickyCookie(pool(1), request(), foreign)).toBeUndefined();
  });

  it('returns undefined when no target is available', () => {
    const b = pool(1);
    byName(b, 'a').healthy = false;
    expect(b.next(request(`sid=${sha('a')}`))).toBeUndefined();
  });
});
