import { describe, expect, it } from 'vitest';
import {
  countersOf,
  createTarget,
  isAvailable,
  isLiveTarget,
  targetStats,
} from '../../src/balancer/target.js';
import type { ProxyTarget, TargetInput } from '../../src/types.js';
import { aConfigError } from '../helpers/config-error.js';

describe('createTarget: accepted inputs', () => {
  it.each<[string, TargetInput, { href: string; name: string; weight: number }]>([
    ['a string', 'http://127.0.0.1:3001', { href: 'http://127.0.0.1:3001/', name: '127.0.0.1:3001', weight: 1 }],
    ['a string with a path prefix', 'https://api.example/v1', { href: 'https://api.example/v1', name: 'api.example', weight: 1 }],
    ['a ws: URL', 'ws://h:9000', { href: 'ws://h:9000/', name: 'h:9000', weight: 1 }],
    ['a wss: URL', 'wss://h', { href: 'wss://h/', name: 'h', weight: 1 }],
    ['a URL object', new URL('http://[::1]:3001/x'), { href: 'http://[::1]:3001/x', name: '[::1]:3001', weight: 1 }],
    ['an object', { url: 'http://h:1', name: 'one', weight: 5 }, { href: 'http://h:1/', name: 'one', weight: 5 }],
    ['an object with a URL', { url: new URL('http://h:2') }, { href: 'http://h:2/', name: 'h:2', weight: 1 }],
    ['weight 0', { url: 'http://h:3', weight: 0 }, { href: 'http://h:3/', name: 'h:3', weight: 0 }],
    ['a fractional weight', { url: 'http://h:4', weight: 0.5 }, { href: 'http://h:4/', name: 'h:4', weight: 0.5 }],
    ['the default port elided from the name', 'http://h:80', { href: 'http://h/', name: 'h', weight: 1 }],
  ])('%s', (_label, input, want) => {
    const t = createTarget(input);
    expect({ href: t.url.href, name: t.name, weight: t.weight }).toEqual(want);
    expect(t).toMatchObject({ healthy: true, active: 0, requests: 0, failures: 0, statuses: {}, maxConns: Infinity });
  });

  it.each<[string, TargetInput, { href: string; name: string; socketPath: string | undefined }]>([
    ['a TCP target has none', 'http://h:1', { href: 'http://h:1/', name: 'h:1', socketPath: undefined }],
    ['an object: named after its socket', { url: 'http://app/v1', socketPath: '/run/app.sock' }, { href: 'http://app/v1', name: '/run/app.sock', socketPath: '/run/app.sock' }],
    ['an object with a name', { url: 'https://app', socketPath: '/run/app.sock', name: 'app' }, { href: 'https://app/', name: 'app', socketPath: '/run/app.sock' }],
    ['unix: shorthand: Host localhost, no prefix', 'unix:/run/app.sock', { href: 'http://localhost/', name: '/run/app.sock', socketPath: '/run/app.sock' }],
    ['unix: shorthand: the rest is the path, as it is', 'unix:/tmp/a b:c%20.sock', { href: 'http://localhost/', name: '/tmp/a b:c%20.sock', socketPath: '/tmp/a b:c%20.sock' }],
    ['unix: shorthand: a relative path', 'unix:app.sock', { href: 'http://localhost/', name: 'app.sock', socketPath: 'app.sock' }],
  ])('socketPath: %s', (_label, input, want) => {
    const t = createTarget(input);
    expect({ href: t.url.href, name: t.name, socketPath: t.socketPath }).toEqual(want);
  });

  it('copies a URL object so later changes to it do not move the target', () => {
    const url = new URL('http://h:1/a');
    const t = createTarget(url);
    url.pathname = '/b';
    expect(t.url.href).toBe('http://h:1/a');
    expect(t.url).not.toBe(url);
  });

  it('keeps meta by reference and defaults it to a fresh {}', () => {
    const meta = { zone: 'a' };
    expect(createTarget({ url: 'http://h', meta }).meta).toBe(meta);
    const a = createTarget('http://a');
    const b = createTarget('http://b');
    expect(a.meta).toEqual({});
    expect(a.meta).not.toBe(b.meta);
  });

  it('does not show the brand among its own enumerable keys', () => {
    expect(Object.keys(createTarget('http://h'))).toEqual([
      'url', 'name', 'weight', 'meta', 'healthy', 'active', 'requests', 'failures', 'statuses', 'maxConns', 'currentWeight', 'socketPath',
    ]);
  });
});

const SOCKET_RULE = "must be a non-empty path to a Unix socket (absolute is best: a relative one is resolved from the process's working directory)";
const SOCKET_EX = "{ url: 'http://app', socketPath: '/run/app.sock' }";

describe('createTarget: validation messages', () => {
  const ex = "'http://127.0.0.1:3001'";
  it.each<[string, unknown, string]>([
    ['a number', 42, `switchyard: targets must be a URL string, a URL or { url, name?, weight?, meta?, socketPath? }, got 42, e.g. ${ex}`],
    ['null', null, `switchyard: targets must be a URL string, a URL or { url, name?, weight?, meta?, socketPath? }, got null, e.g. ${ex}`],
    ['an array', ['http://h'], `switchyard: targets must be a URL string, a URL or { url, name?, weight?, meta?, socketPath? }, got an array of 1, e.g. ${ex}`],
    ['a Map', new Map(), `switchyard: targets must be a URL string, a URL or { url, name?, weight?, meta?, socketPath? }, got a Map, e.g. ${ex}`],
    ['no scheme, host:port', 'localhost:3001', `switchyard: targets must use http:, https:, ws: or wss:, got "localhost:3001" (did you mean "http://localhost:3001"?), e.g. ${ex}`],
    ['no scheme, ip:port', '127.0.0.1:3001', `switchyard: targets is not a valid absolute URL, got "127.0.0.1:3001" (did you mean "http://127.0.0.1:3001"?), e.g. ${ex}`],
    ['a relative path', '/api', `switchyard: targets is not a valid absolute URL, got "/api", e.g. ${ex}`],
    ['an empty string', '', `switchyard: targets is not a valid absolute URL, got "", e.g. ${ex}`],
    ['ftp:', 'ftp://h', `switchyard: targets must use http:, https:, ws: or wss:, got "ftp://h", e.g. ${ex}`],
    ['credentials', 'http://user:secret@h', `switchyard: targets must not contain a user name or password, got "http://***@h"; send credentials with the headers option instead, e.g. ${ex}`],
    ['a user name only', 'http://user@h', `switchyard: targets must not contain a user name or password, got "http://***@h"; send credentials with the headers option instead, e.g. ${ex}`],
    ['a query', 'http://h/?a=1', `switchyard: targets must not contain a query string, got "http://h/?a=1"; use the to option to add one, e.g. ${ex}`],
    ['an empty query', 'http://h/?', `switchyard: targets must not contain a query string, got "http://h/?"; use the to option to add one, e.g. ${ex}`],
    ['a fragment', 'http://h/#x', `switchyard: targets must not contain a #fragment, got "http://h/#x", e.g. ${ex}`],
    ['an empty fragment', 'http://h/#', `switchyard: targets must not contain a #fragment, got "http://h/#", e.g. ${ex}`],
    ['object without url', { name: 'a' }, `switchyard: targets.url must be a URL string or a URL, got undefined, e.g. ${ex}`],
    ['object with a bad url', { url: 'ftp://h' }, `switchyard: targets.url must use http:, https:, ws: or wss:, got "ftp://h", e.g. ${ex}`],
    ['an unknown key', { url: 'http://h', wieght: 2 }, 'switchyard: targets.wieght is not an option; did you mean "targets.weight"?'],
    ['an unknown key with no near name', { url: 'http://h', zone: 'a' }, 'switchyard: targets.zone is not an option; use url, name, weight, meta, socketPath'],
    ['an empty name', { url: 'http://h', name: '' }, `switchyard: targets.name must be a non-empty string, got "", e.g. { url: ${ex}, name: 'api-1' }`],
    ['a blank name', { url: 'http://h', name: '  ' }, `switchyard: targets.name must be a non-empty string, got "  ", e.g. { url: ${ex}, name: 'api-1' }`],
    ['a number name', { url: 'http://h', name: 1 }, `switchyard: targets.name must be a non-empty string, got 1, e.g. { url: ${ex}, name: 'api-1' }`],
    ['a negative weight', { url: 'http://h', weight: -1 }, `switchyard: targets.weight must be a finite number >= 0, got -1, e.g. { url: ${ex}, weight: 2 }`],
    ['a NaN weight', { url: 'http://h', weight: Number.NaN }, `switchyard: targets.weight must be a finite number >= 0, got NaN, e.g. { url: ${ex}, weight: 2 }`],
    ['an infinite weight', { url: 'http://h', weight: Infinity }, `switchyard: targets.weight must be a finite number >= 0, got Infinity, e.g. { url: ${ex}, weight: 2 }`],
    ['a string weight', { url: 'http://h', weight: '2' }, `switchyard: targets.weight must be a finite number >= 0, got "2", e.g. { url: ${ex}, weight: 2 }`],
    ['an array meta', { url: 'http://h', meta: [] }, `switchyard: targets.meta must be a plain object, got an array of 0, e.g. { url: ${ex}, meta: { zone: 'a' } }`],
    ['a string meta', { url: 'http://h', meta: 'x' }, `switchyard: targets.meta must be a plain object, got "x", e.g. { url: ${ex}, meta: { zone: 'a' } }`],
    ['an empty socketPath', { url: 'http://h', socketPath: '' }, `switchyard: targets.socketPath ${SOCKET_RULE}, got "", e.g. ${SOCKET_EX}`],
    ['a number socketPath', { url: 'http://h', socketPath: 3 }, `switchyard: targets.socketPath ${SOCKET_RULE}, got 3, e.g. ${SOCKET_EX}`],
    ['a socketPath with NUL', { url: 'http://h', socketPath: '/a\0b' }, `switchyard: targets.socketPath ${SOCKET_RULE}, got "/a\\u0000b", e.g. ${SOCKET_EX}`],
    ['a unix: string without a path', 'unix:', `switchyard: targets ${SOCKET_RULE}, got "", e.g. ${SOCKET_EX}`],
    ['a socket target with a bad url', { url: 'unix:/run/a.sock', socketPath: '/run/a.sock' }, `switchyard: targets.url must use http:, https:, ws: or wss:, got "unix:/run/a.sock" (a Unix socket goes in socketPath, e.g. ${SOCKET_EX}), e.g. ${ex}`],
    ['the got / nginx socket form', 'http://unix:/run/a.sock:/v1', `switchyard: targets names a Unix socket in the http://unix:/path form, got "http://unix:/run/a.sock:/v1"; write 'unix:/path' or { url, socketPath }, e.g. ${SOCKET_EX}`],
  ])('%s', (_label, input, message) => {
    expect(() => createTarget(input as TargetInput)).toThrow(aConfigError(message));
  });

  it('names the option it is given', () => {
    expect(() => createTarget(42 as unknown as TargetInput, 'targets[2]')).toThrow(/^switchyard: targets\[2\] must be/);
    expect(() => createTarget({ url: 'http://h', weight: -1 }, 'targets[2]')).toThrow(/^switchyard: targets\[2\]\.weight must/);
  });

  it('compares whole messages (guards the table above)', () => {
    expect(() => expect(() => createTarget(42 as unknown as TargetInput)).toThrow(aConfigError('switchyard: targets'))).toThrow();
  });

  it('throws TypeError instances', () => {
    expect(() => createTarget('nope')).toThrow(TypeError);
  });
});

describe('isAvailable', () => {
  const base = () => createTarget('http://h');
  it.each<[string, (t: ReturnType<typeof base>) => void, boolean]>([
    ['a fresh target', () => {}, true],
    ['unhealthy', (t) => { t.healthy = false; }, false],
    ['below maxConns', (t) => { t.maxConns = 2; t.active = 1; }, true],
    ['full (active == maxConns)', (t) => { t.maxConns = 2; t.active = 2; }, false],
    ['weight 0', (t) => { (t as { weight: number }).weight = 0; }, false],
  ])('%s', (_label, change, want) => {
    const t = base();
    change(t);
    expect(isAvailable(t)).toBe(want);
  });

  it('is false for an excluded target only', () => {
    const a = base();
    const b = createTarget('http://b');
    expect(isAvailable(a, new Set<ProxyTarget>([a]))).toBe(false);
    expect(isAvailable(b, new Set<ProxyTarget>([a]))).toBe(true);
  });
});

describe('isLiveTarget, countersOf and targetStats', () => {
  const foreign: ProxyTarget = {
    url: new URL('http://custom:1'),
    name: 'custom',
    weight: 1,
    meta: {},
    healthy: true,
    active: 0,
  };

  it('tells our targets from look-alikes', () => {
    expect(isLiveTarget(createTarget('http://h'))).toBe(true);
    expect(isLiveTarget(foreign)).toBe(false);
    expect(isLiveTarget({ ...createTarget('http://h') })).toBe(false);
  });

  it('returns our target itself as its counters', () => {
    const t = createTarget('http://h');
    expect(countersOf(t)).toBe(t);
  });

  it('keeps counters for a foreign target on the side, without writing to it', () => {
    const c = countersOf(foreign);
    expect(c).toEqual({ healthy: true, active: 0, requests: 0, failures: 0, statuses: {}, maxConns: Infinity });
    c.active++;
    c.requests++;
    c.statuses[200] = 1;
    expect(countersOf(foreign)).toBe(c);
    expect(foreign.active).toBe(0);
    expect(targetStats(foreign)).toEqual({
      name: 'custom', url: 'http://custom:1/', healthy: true, active: 1, requests: 1, failures: 0, statuses: { 200: 1 },
    });
    c.healthy = false;
    expect(targetStats(foreign).healthy).toBe(false);
  });

  it('builds stats from our target and copies statuses', () => {
    const t = createTarget({ url: 'http://h:1', name: 'one' });
    t.requests = 3;
    t.failures = 1;
    t.statuses[502] = 1;
    const s = targetStats(t);
    expect(s).toEqual({ name: 'one', url: 'http://h:1/', healthy: true, active: 0, requests: 3, failures: 1, statuses: { 502: 1 } });
    (s.statuses as Record<number, number>)[502] = 9;
    expect(t.statuses[502]).toBe(1);
  });
});
