import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createBalancer, setTargetDefaults, type Chooser } from '../../src/balancer/balancer.js';
import { createFirst } from '../../src/balancer/policies/first.js';
import { createRoundRobin } from '../../src/balancer/policies/round-robin.js';
import type { LiveTarget } from '../../src/balancer/target.js';
import type { Balancer, ProxyTarget, TargetInput } from '../../src/types.js';
import { aConfigError } from '../helpers/config-error.js';

const req = {} as IncomingMessage;
const names = (b: { targets: readonly ProxyTarget[] }): string[] => b.targets.map((t) => t.name);

describe('createBalancer: the target list', () => {
  it('creates live targets in order, frozen', () => {
    const b = createBalancer(['http://a:1', { url: 'http://b:2', name: 'bee' }], createFirst());
    expect(names(b)).toEqual(['a:1', 'bee']);
    expect(Object.isFrozen(b.targets)).toBe(true);
  });

  it('allows an empty list: next() is undefined until a target is added', () => {
    const b = createBalancer([], createRoundRobin());
    expect(b.next(req)).toBeUndefined();
    const t = b.add('http://a:1');
    expect(b.next(req)).toBe(t);
  });

  it('add() returns the live target and appends it', () => {
    const b = createBalancer(['http://a:1'], createFirst());
    const t = b.add({ url: 'http://b:2', weight: 3, meta: { zone: 'x' } });
    expect(t).toBe(b.targets[1]);
    expect(t).toMatchObject({ name: 'b:2', weight: 3, meta: { zone: 'x' }, healthy: true, active: 0 });
  });

  it('add() of a zero-weight target is allowed (it is just never chosen)', () => {
    const b = createBalancer([], createRoundRobin());
    b.add({ url: 'http://a:1', weight: 0 });
    expect(b.next(req)).toBeUndefined();
  });

  it.each<[string, string]>([
    ['by name', 'bee'],
    ['by URL with the trailing slash', 'http://b:2/'],
    ['by URL without the trailing slash', 'http://b:2'],
    ['by URL in other letter case', 'HTTP://B:2'],
  ])('remove() %s', (_label, arg) => {
    const b = createBalancer(['http://a:1', { url: 'http://b:2', name: 'bee' }, 'http://c:3'], createFirst());
    expect(b.remove(arg)).toBe(true);
    expect(names(b)).toEqual(['a:1', 'c:3']);
    expect(b.remove(arg)).toBe(false);
  });

  it.each<[string, string]>([
    ['with the trailing slash', 'http://h/api/'],
    ['without the trailing slash', 'http://h/api'],
  ])('remove() a target with a path prefix %s', (_label, arg) => {
    const b = createBalancer([{ url: 'http://h/api', name: 'api' }], createFirst());
    expect(b.remove(arg)).toBe(true);
    expect(b.targets).toEqual([]);
  });

  it.each<[string, unknown]>([
    ['an unknown name', 'nope'],
    ['an unknown URL', 'http://z:9'],
    ['a URL with another path', 'http://a:1/x'],
    ['a non-string', 42],
  ])('remove() of %s returns false', (_label, arg) => {
    const b = createBalancer(['http://a:1'], createFirst());
    expect(b.remove(arg as string)).toBe(false);
    expect(names(b)).toEqual(['a:1']);
  });

  it('prefers a name match over a URL match', () => {
    const b = createBalancer([{ url: 'http://x:1', name: 'first' }, { url: 'http://y:1', name: 'http://x:1' }], createFirst());
    expect(b.remove('http://x:1')).toBe(true);
    expect(names(b)).toEqual(['first']);
  });

  it('replaces the array on add/remove, so a walk over the old one is undisturbed', () => {
    const b = createBalancer(['http://a:1', 'http://b:2', 'http://c:3'], createFirst());
    const before = b.targets;
    const seen: string[] = [];
    for (const t of before) {
      seen.push(t.name);
      if (t.name === 'a:1') {
        b.remove('b:2');
        b.add('http://d:4');
      }
    }
    expect(seen).toEqual(['a:1', 'b:2', 'c:3']);
    expect(names({ targets: before })).toEqual(['a:1', 'b:2', 'c:3']);
    expect(names(b)).toEqual(['a:1', 'c:3', 'd:4']);
  });

  it('lets an in-flight request settle its counters on a removed target', () => {
    const b = createBalancer(['http://a:1'], createFirst());
    const t = b.next(req) as LiveTarget;
    t.active++;
    b.remove('a:1');
    t.active--;
    t.statuses[200] = 1;
    expect(t).toMatchObject({ active: 0, statuses: { 200: 1 } });
    expect(b.next(req)).toBeUndefined();
  });

  it('a removed name can be added again', () => {
    const b = createBalancer(['http://a:1'], createFirst());
    b.remove('a:1');
    expect(b.add('http://a:1').name).toBe('a:1');
  });
});

describe('createBalancer: next()', () => {
  it('hands the chooser only available candidates, in list order, in one reused array', () => {
    const seen: string[][] = [];
    const arrays: unknown[] = [];
    const spy: Chooser = (candidates) => {
      seen.push(candidates.map((t) => t.name));
      arrays.push(candidates);
      return candidates[0];
    };
    const b = createBalancer(['http://a:1', 'http://b:2', 'http://c:3', { url: 'http://z:0', weight: 0 }], spy);
    const [a, bb, c] = b.targets as [LiveTarget, LiveTarget, LiveTarget];
    b.next(req);
    bb.healthy = false;
    b.next(req);
    bb.healthy = true;
    c.maxConns = 1;
    c.active = 1;
    b.next(req, new Set<ProxyTarget>([a]));
    expect(seen).toEqual([['a:1', 'b:2', 'c:3'], ['a:1', 'c:3'], ['b:2']]);
    expect(arrays[0]).toBe(arrays[1]);
    expect(arrays[1]).toBe(arrays[2]);
  });

  it('does not call the chooser when nothing is available', () => {
    let calls = 0;
    const b = createBalancer(['http://a:1'], () => {
      calls++;
      return undefined;
    });
    (b.targets[0] as LiveTarget).healthy = false;
    expect(b.next(req)).toBeUndefined();
    expect(calls).toBe(0);
  });

  it('passes the request through to the chooser', () => {
    let got: IncomingMessage | undefined;
    const b = createBalancer(['http://a:1'], (c, r) => {
      got = r;
      return c[0];
    });
    b.next(req);
    expect(got).toBe(req);
  });
});

describe('setTargetDefaults', () => {
  it('applies maxConns to current and future targets', () => {
    const b = createBalancer(['http://a:1'], createRoundRobin());
    expect(setTargetDefaults(b, { maxConns: 2 })).toBe(true);
    const added = b.add('http://b:2');
    expect(b.targets.map((t) => t.maxConns)).toEqual([2, 2]);
    expect(added.maxConns).toBe(2);
  });

  it('makes a full target unavailable', () => {
    const b = createBalancer(['http://a:1', 'http://b:2'], createFirst());
    setTargetDefaults(b, { maxConns: 1 });
    const a = b.next(req) as LiveTarget;
    a.active++;
    expect(b.next(req)?.name).toBe('b:2');
    a.active--;
    expect(b.next(req)?.name).toBe('a:1');
  });

  it('leaves maxConns as it is when not given', () => {
    const b = createBalancer(['http://a:1'], createFirst());
    setTargetDefaults(b, { maxConns: 3 });
    setTargetDefaults(b, {});
    expect(b.targets[0]?.maxConns).toBe(3);
  });

  it('returns false for a balancer switchyard did not create', () => {
    const custom: Balancer = { targets: [], add: () => { throw new Error('no'); }, remove: () => false, next: () => undefined };
    expect(setTargetDefaults(custom, { maxConns: 1 })).toBe(false);
  });

  it.each<[unknown, string]>([
    [0, '0'],
    [-1, '-1'],
    [1.5, '1.5'],
    [Number.NaN, 'NaN'],
    ['10', '"10"'],
  ])('rejects maxConns %s', (value, shown) => {
    const b = createBalancer([], createFirst());
    expect(() => setTargetDefaults(b, { maxConns: value as number })).toThrow(
      aConfigError(`switchyard: maxConns must be a positive integer, got ${shown}, e.g. maxConns: 100`),
    );
  });

  it('accepts Infinity (unlimited)', () => {
    const b = createBalancer(['http://a:1'], createFirst());
    expect(setTargetDefaults(b, { maxConns: Infinity })).toBe(true);
  });
});

describe('createBalancer: validation messages', () => {
  it.each<[string, unknown, string | undefined, string]>([
    ['not an array', 'http://a:1', undefined, `switchyard: targets must be an array of targets, got "http://a:1", e.g. ['http://127.0.0.1:3001']`],
    ['an invalid entry names its index', ['http://a:1', 42], undefined, "switchyard: targets[1] must be a URL string, a URL or { url, name?, weight?, meta?, socketPath? }, got 42, e.g. 'http://127.0.0.1:3001'"],
    ['the given option name', [42], 'roundRobin() targets', "switchyard: roundRobin() targets[0] must be a URL string, a URL or { url, name?, weight?, meta?, socketPath? }, got 42, e.g. 'http://127.0.0.1:3001'"],
    ['a duplicate default name', ['http://a:1', 'http://a:1/other'], undefined, `switchyard: targets[1] is named "a:1", which another target already has; give each target its own name, e.g. { url: 'http://127.0.0.1:3001', name: 'api-2' }`],
    ['a duplicate given name', [{ url: 'http://a:1', name: 'x' }, { url: 'http://b:1', name: 'x' }], undefined, `switchyard: targets[1] is named "x", which another target already has; give each target its own name, e.g. { url: 'http://127.0.0.1:3001', name: 'api-2' }`],
    ['all weights 0', [{ url: 'http://a:1', weight: 0 }, { url: 'http://b:1', weight: 0 }], undefined, "switchyard: targets would never be chosen: all weights are 0; give at least one target a weight above 0, e.g. { url: 'http://127.0.0.1:3001', weight: 1 }"],
  ])('%s', (_label, inputs, option, message) => {
    const opts = option === undefined ? undefined : { option };
    expect(() => createBalancer(inputs as TargetInput[], createFirst(), opts)).toThrow(aConfigError(message));
  });

  it('add() with a name already present', () => {
    const b = createBalancer([{ url: 'http://a:1', name: 'x' }], createFirst());
    expect(() => b.add({ url: 'http://b:2', name: 'x' })).toThrow(
      aConfigError(`switchyard: balancer.add() target is named "x", which another target already has; give each target its own name, e.g. { url: 'http://127.0.0.1:3001', name: 'api-2' }`),
    );
    expect(() => b.add('http://a:1')).not.toThrow();
    expect(() => b.add('http://a:1')).toThrow(/^switchyard: balancer\.add\(\) target is named "a:1", which another target already has/);
    expect(names(b)).toEqual(['x', 'a:1']);
  });

  it('add() with an invalid target', () => {
    const b = createBalancer([], createFirst());
    expect(() => b.add('ftp://h')).toThrow(
      aConfigError(`switchyard: balancer.add() target must use http:, https:, ws: or wss:, got "ftp://h", e.g. 'http://127.0.0.1:3001'`),
    );
    expect(b.targets).toEqual([]);
  });
});
