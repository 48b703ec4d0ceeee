import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createBalancer, type Chooser, type LiveBalancer } from '../../src/balancer/balancer.js';
import { createHeaderHash } from '../../src/balancer/policies/header-hash.js';
import { createIpHash } from '../../src/balancer/policies/ip-hash.js';
import { fmix32, hashString, pickByKey } from '../../src/balancer/policies/rendezvous.js';
import { createUriHash } from '../../src/balancer/policies/uri-hash.js';
import type { LiveTarget } from '../../src/balancer/target.js';
import type { ProxyTarget } from '../../src/types.js';
import { byName, countBy, letteredTargets } from '../helpers/balancer.js';

/** A request as the hash policies read it: socket address, headers and url. */
function request(opts: { addr?: string; url?: string; headers?: IncomingHttpHeaders }): IncomingMessage {
  return { socket: { remoteAddress: opts.addr ?? '127.0.0.1' }, url: opts.url ?? '/', headers: opts.headers ?? {} } as unknown as IncomingMessage;
}

const byUrl = (url: string): IncomingMessage => request({ url });

/** Targets named a, b, c… (names, not ports, are hashed: the mapping is the same on every run). */
function pool(chooser: Chooser, n: number, weights: number[] = []): LiveBalancer {
  return createBalancer(letteredTargets(n, weights), chooser);
}

const KEYS = Array.from({ length: 1000 }, (_, i) => `/item/${i}`);

/** Target name per key, for uri_hash. */
function mapping(b: LiveBalancer, keys: readonly string[] = KEYS, exclude?: ReadonlySet<ProxyTarget>): string[] {
  return keys.map((k) => b.next(byUrl(k), exclude)?.name ?? '-');
}

describe('the hash function', () => {
  // Pinned to the published FNV-1a test vectors: changing the hash would move every
  // client's key to another target on upgrade.
  it.each<[string, number]>([
    ['', fmix32(0x811c9dc5)],
    ['a', fmix32(0xe40c292c)],
    ['foobar', fmix32(0xbf9cf968)],
  ])('hashString(%j) is fmix32 of its FNV-1a hash', (text, want) => {
    expect(hashString(text)).toBe(want);
  });

  it('fmix32 is the murmur3 finaliser (0 stays 0, output is unsigned)', () => {
    expect(fmix32(0)).toBe(0);
    expect(fmix32(1)).toBe(0x514e28b7);
    expect(fmix32(-1)).toBeGreaterThanOrEqual(0);
  });

  it('spreads keys that differ in one character', () => {
    const hashes = new Set(KEYS.map(hashString));
    expect(hashes.size).toBe(KEYS.length);
  });
});

describe('rendezvous hashing (uri_hash)', () => {
  it('maps the first keys to a fixed sequence of targets', () => {
    const b = pool(createUriHash(), 3);
    expect(mapping(b, KEYS.slice(0, 12)).join('')).toBe(PINNED_3);
  });

  it('gives a key the same target every time', () => {
    const b = pool(createUriHash(), 5);
    const once = mapping(b);
    expect(mapping(b)).toEqual(once);
    expect(mapping(pool(createUriHash(), 5))).toEqual(once);
  });

  it('spreads 1,000 keys evenly over 5 targets', () => {
    const counts = countBy(mapping(pool(createUriHash(), 5)));
    expect(Object.keys(counts).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    for (const n of Object.values(counts)) {
      expect(n).toBeGreaterThan(140);
      expect(n).toBeLessThan(260);
    }
  });

  it('removing one of 5 targets moves exactly the keys that were on it', () => {
    const b = pool(createUriHash(), 5);
    const before = mapping(b);
    expect(b.remove('c')).toBe(true);
    const after = mapping(b);
    const moved = KEYS.filter((_, i) => before[i] !== after[i]);
    const onC = KEYS.filter((_, i) => before[i] === 'c');
    expect(onC.length).toBeGreaterThan(0);
    expect(moved).toEqual(onC);
    expect(after).not.toContain('c');
  });

  it('adding a sixth target moves only keys to it, about 1/6 of them', () => {
    const b = pool(createUriHash(), 5);
    const before = mapping(b);
    b.add({ url: 'http://127.0.0.1:4000', name: 'f' });
    const after = mapping(b);
    const moved = KEYS.map((_, i) => i).filter((i) => before[i] !== after[i]);
    for (const i of moved) expect(after[i]).toBe('f');
    expect(moved.length).toBe(after.filter((n) => n === 'f').length);
    expect(moved.length).toBeGreaterThan(1000 / 6 - 60);
    expect(moved.length).toBeLessThan(1000 / 6 + 60);
  });

  it.each<[string, (t: LiveTarget) => void]>([
    ['unhealthy', (t) => { t.healthy = false; }],
    ['full', (t) => { t.maxConns = 1; t.active = 1; }],
  ])('a target that is %s loses only its own keys, and gets them back', (_label, takeDown) => {
    const b = pool(createUriHash(), 5);
    const before = mapping(b);
    const t = byName(b, 'b');
    takeDown(t);
    const during = mapping(b);
    KEYS.forEach((_, i) => {
      if (before[i] === 'b') expect(during[i]).not.toBe('b');
      else expect(during[i]).toBe(before[i]);
    });
    t.healthy = true;
    t.maxConns = Infinity;
    t.active = 0;
    expect(mapping(b)).toEqual(before);
  });

  it("an excluded target (a retry) sends each of its keys to the key's own second choice", () => {
    const b = pool(createUriHash(), 5);
    const before = mapping(b);
    const exclude = new Set<ProxyTarget>([byName(b, 'a')]);
    const retried = mapping(b, KEYS, exclude);
    // The second choice is what the key maps to once `a` is gone altogether.
    b.remove('a');
    expect(retried).toEqual(mapping(b));
    KEYS.forEach((_, i) => {
      if (before[i] !== 'a') expect(retried[i]).toBe(before[i]);
    });
  });

  it('never chooses a zero-weight target, and is undefined when none is available', () => {
    const b = pool(createUriHash(), 3, [1, 0, 1]);
    expect(mapping(b)).not.toContain('b');
    for (const t of b.targets) t.healthy = false;
    expect(b.next(byUrl('/x'))).toBeUndefined();
    expect(pickByKey([], 'x')).toBeUndefined();
  });

  it('keys on path and query as req.url has them', () => {
    const b = pool(createUriHash(), 5);
    const withQuery = Array.from({ length: 50 }, (_, i) => b.next(byUrl(`/same?page=${i}`))?.name);
    expect(new Set(withQuery).size).toBeGreaterThan(1);
    expect(b.next(byUrl('/same?page=7'))?.name).toBe(withQuery[7]);
  });
});

describe('ip_hash', () => {
  const addrs = Array.from({ length: 200 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);

  it('keys on the socket address: the same client keeps its target', () => {
    const b = pool(createIpHash(), 3);
    const first = addrs.map((addr) => b.next(request({ addr }))?.name);
    expect(addrs.map((addr) => b.next(request({ addr }))?.name)).toEqual(first);
    expect(Object.keys(countBy(first as string[])).sort()).toEqual(['a', 'b', 'c']);
  });

  it('ignores X-Forwarded-For (client-supplied, so forgeable)', () => {
    const b = pool(createIpHash(), 5);
    const plain = b.next(request({ addr: '10.0.0.1' }))?.name;
    for (let i = 0; i < 50; i++) {
      const forged = request({ addr: '10.0.0.1', headers: { 'x-forwarded-for': `192.0.2.${i}` } });
      expect(b.next(forged)?.name).toBe(plain);
    }
  });

  it('treats an IPv4-mapped IPv6 peer as the IPv4 client it is', () => {
    const b = pool(createIpHash(), 5);
    for (const addr of addrs.slice(0, 20)) {
      expect(b.next(request({ addr: `::ffff:${addr}` }))?.name).toBe(b.next(request({ addr }))?.name);
    }
  });

  it('is the same mapping as hashing the address string', () => {
    const b = pool(createIpHash(), 4);
    for (const addr of ['127.0.0.1', '::1', '10.1.2.3']) {
      expect(b.next(request({ addr }))).toBe(pickByKey(b.targets, addr));
    }
  });
});

describe('headerHash', () => {
  it('keys on the header value, whatever the letter case of its name', () => {
    const b = pool(createHeaderHash('X-User'), 3);
    const users = Array.from({ length: 100 }, (_, i) => `user-${i}`);
    const first = users.map((u) => b.next(request({ headers: { 'x-user': u } }))?.name);
    expect(users.map((u) => b.next(request({ headers: { 'x-user': u } }))?.name)).toEqual(first);
    expect(first.map((_, i) => pickByKey(b.targets, users[i] as string)?.name)).toEqual(first);
    expect(new Set(first).size).toBe(3);
  });

  it.each<[string, IncomingHttpHeaders]>([
    ['absent', {}],
    ['empty', { 'x-user': '' }],
    ['another header only', { 'x-other': 'user-1' }],
  ])('falls back to round robin when the header is %s', (_label, headers) => {
    const b = pool(createHeaderHash('X-User'), 3);
    let out = '';
    for (let i = 0; i < 6; i++) out += b.next(request({ headers }))?.name ?? '-';
    expect(out).toBe('abcabc');
  });

  it('round robin of the fallback skips unavailable targets', () => {
    const b = pool(createHeaderHash('x-user'), 3);
    byName(b, 'b').healthy = false;
    let out = '';
    for (let i = 0; i < 4; i++) out += b.next(request({}))?.name ?? '-';
    expect(out).toBe('acac');
  });

  it('hashes a repeated header as Node joins it', () => {
    const b = pool(createHeaderHash('set-cookie'), 5);
    const got = b.next(request({ headers: { 'set-cookie': ['a=1', 'b=2'] } }));
    expect(got).toBe(pickByKey(b.targets, 'a=1, b=2'));
  });
});

describe('weights in rendezvous hashing', () => {
  it.each<[number[], Record<string, number>]>([
    [[3, 1], { a: 0.75, b: 0.25 }],
    [[1, 2, 7], { a: 0.1, b: 0.2, c: 0.7 }],
    [[1, 1, 1, 1], { a: 0.25, b: 0.25, c: 0.25, d: 0.25 }],
  ])('weights %j give each target its share of 10,000 keys', (weights, want) => {
    const b = pool(createUriHash(), weights.length, weights);
    const keys = Array.from({ length: 10_000 }, (_, i) => `/k/${i}`);
    const counts = countBy(mapping(b, keys));
    for (const [name, share] of Object.entries(want)) {
      expect(Math.abs((counts[name] ?? 0) / keys.length - share), name).toBeLessThan(0.02);
    }
  });
});

// Pinned output of the first 12 KEYS over targets a, b, c (see 'maps the first keys…').
const PINNED_3 = 'bbbacbbcbabb';
