import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { first, POLICIES, random, roundRobin } from '../../src/balancer/factories.js';
import { resolveBalancer } from '../../src/balancer/resolve-balancer.js';
import { isLiveTarget } from '../../src/balancer/target.js';
import type { Balancer, BalancerOption, ProxyTarget, TargetInput } from '../../src/types.js';
import * as api from '../../src/index.js';
import { aConfigError, configErrorFrom } from '../helpers/config-error.js';

const req = {} as IncomingMessage;
const two = ['http://a:1', 'http://b:2'];

function picks(b: Balancer, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += b.next(req)?.name[0] ?? '-';
  return out;
}

const custom = (): Balancer => {
  const t: ProxyTarget = { url: new URL('http://c:3'), name: 'c', weight: 1, meta: {}, healthy: true, active: 0 };
  return { targets: [t], add: () => t, remove: () => false, next: () => t };
};

describe('factories', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each<[string, (t: TargetInput[]) => Balancer, string]>([
    ['roundRobin', roundRobin, 'abab'],
    ['first', first, 'aaaa'],
  ])('%s picks %s', (_name, factory, want) => {
    expect(picks(factory(two), 4)).toBe(want);
  });

  it('random uses Math.random', () => {
    vi.spyOn(Math, 'random').mockReturnValueOnce(0.9).mockReturnValueOnce(0.1);
    expect(picks(random(two), 2)).toBe('ba');
  });

  it('returns live targets', () => {
    expect(isLiveTarget(roundRobin(two).targets[0] as ProxyTarget)).toBe(true);
  });

  it.each<[string, (t: TargetInput[]) => Balancer]>([
    ['roundRobin', roundRobin],
    ['random', random],
    ['first', first],
  ])('%s names itself in validation errors', (name, factory) => {
    expect(() => factory('http://a:1' as unknown as TargetInput[])).toThrow(
      aConfigError(`switchyard: ${name}() targets must be an array of targets, got "http://a:1", e.g. ['http://127.0.0.1:3001']`),
    );
    expect(() => factory([{ url: 'http://a:1', weight: 0 }])).toThrow(
      /^switchyard: [a-zA-Z]+\(\) targets would never be chosen: all weights are 0/,
    );
  });
});

describe('resolveBalancer', () => {
  it.each<[string, BalancerOption | undefined, string]>([
    ['undefined is round robin', undefined, 'abab'],
    ["'round_robin'", 'round_robin', 'abab'],
    ["'first'", 'first', 'aaaa'],
  ])('%s', (_label, option, want) => {
    expect(picks(resolveBalancer(option, two), 4)).toBe(want);
  });

  it("'random' is weighted random", () => {
    vi.spyOn(Math, 'random').mockReturnValueOnce(0.9).mockReturnValueOnce(0.1);
    expect(picks(resolveBalancer('random', two), 2)).toBe('ba');
    vi.restoreAllMocks();
  });

  it('accepts a single target', () => {
    expect(resolveBalancer(undefined, 'http://a:1').targets.map((t) => t.name)).toEqual(['a:1']);
  });

  it('accepts an empty list (targets can be added at run time)', () => {
    const b = resolveBalancer('round_robin', []);
    expect(b.next(req)).toBeUndefined();
    b.add('http://a:1');
    expect(b.next(req)?.name).toBe('a:1');
  });

  it('creates a new balancer per call', () => {
    expect(resolveBalancer(undefined, two)).not.toBe(resolveBalancer(undefined, two));
  });

  it.each<[string, () => Balancer]>([
    ['one from a factory', () => roundRobin(two)],
    ['a custom implementation', custom],
  ])('uses a Balancer instance as is: %s', (_label, make) => {
    const instance = make();
    expect(resolveBalancer(instance, undefined)).toBe(instance);
  });

  // Their behaviour is tested in balancer-policies-*.test.ts.
  it.each<[string, BalancerOption]>([
    ['least_conn', 'least_conn'],
    ['ip_hash', 'ip_hash'],
    ['uri_hash', 'uri_hash'],
    ['{ header }', { header: 'X-User' }],
    ['{ cookie }', { cookie: 'sid', secret: 's' }],
  ])('%s resolves to a balancer over targets', (_label, option) => {
    expect(resolveBalancer(option, two).targets.map((t) => t.name)).toEqual(['a:1', 'b:2']);
  });

  const expected =
    "switchyard: balancer must be one of 'round_robin', 'random', 'first', 'least_conn', 'ip_hash', 'uri_hash', " +
    "{ header: 'X-Name' }, { cookie: 'name' } or a Balancer instance, got ";
  it.each<[string, unknown, string]>([
    ['a misspelt name', 'roundrobin', '"roundrobin"'],
    ['a name in other case', 'ROUND_ROBIN', '"ROUND_ROBIN"'],
    ['an inherited key', 'toString', '"toString"'],
    ['a number', 42, '42'],
    ['null', null, 'null'],
    ['an array', ['round_robin'], 'an array of 1'],
    ['an empty object', {}, '{}'],
    ['an unknown policy object', { hash: 'x' }, '{ hash }'],
    ['a function', () => undefined, 'a function'],
  ])('rejects %s', (_label, option, shown) => {
    expect(() => resolveBalancer(option as BalancerOption, two)).toThrow(aConfigError(`${expected}${shown}, e.g. balancer: 'least_conn'`));
  });

  it('says which members a would-be instance lacks', () => {
    const partial = { targets: [], next: () => undefined };
    expect(() => resolveBalancer(partial as unknown as BalancerOption, undefined)).toThrow(
      aConfigError(
        'switchyard: balancer looks like a Balancer instance but lacks add, remove; ' +
          'a Balancer has a targets array and add(), remove() and next() methods',
      ),
    );
  });

  it('rejects targets together with an instance', () => {
    const message =
      'switchyard: targets cannot be given with a balancer instance; add the targets to the balancer, ' +
      "e.g. balancer: roundRobin(['http://127.0.0.1:3001'])";
    expect(() => resolveBalancer(roundRobin(two), two)).toThrow(aConfigError(message));
    expect(() => resolveBalancer(custom(), [])).toThrow(aConfigError(message));
  });

  it.each<[string, BalancerOption | undefined]>([
    ['no balancer', undefined],
    ["'first'", 'first'],
  ])('requires targets with %s', (_label, option) => {
    expect(() => resolveBalancer(option, undefined)).toThrow(
      aConfigError("switchyard: targets is required, e.g. targets: 'http://127.0.0.1:3001'"),
    );
  });

  it('validates targets with the option name targets', () => {
    expect(() => resolveBalancer(undefined, ['http://a:1', 'nope'])).toThrow(/^switchyard: targets\[1\] /);
    expect(() => resolveBalancer('random', [{ url: 'http://a:1', weight: 0 }])).toThrow(
      /^switchyard: targets would never be chosen: all weights are 0/,
    );
  });
});

describe('one policy registry', () => {
  it.each(Object.entries(POLICIES))('%s: the config name and the exported factory build the same policy', (name, policy) => {
    const factory = (api as unknown as Record<string, (t: TargetInput[]) => Balancer>)[policy.factory];
    expect(typeof factory).toBe('function');
    // Same seed for both, so 'random' must agree too.
    const seq = (make: () => Balancer): string => {
      vi.spyOn(Math, 'random').mockReturnValueOnce(0.9).mockReturnValueOnce(0.1).mockReturnValueOnce(0.6);
      const b = make();
      const out = picks(b, 3);
      vi.restoreAllMocks();
      return out;
    };
    expect(seq(() => resolveBalancer(name as BalancerOption, two))).toBe(seq(() => factory!(two)));
    expect(() => factory!([42 as unknown as TargetInput])).toThrow(new RegExp(`^switchyard: ${policy.factory}\\(\\) targets\\[0\\] `));
    expect(() => resolveBalancer(name as BalancerOption, [42 as unknown as TargetInput])).toThrow(/^switchyard: targets\[0\] /);
  });

  it('lists every registered name in the error for an unknown one', () => {
    const err = configErrorFrom(() => resolveBalancer('fastest' as BalancerOption, two));
    for (const name of Object.keys(POLICIES)) expect(err.problem).toContain(`'${name}'`);
  });
});
