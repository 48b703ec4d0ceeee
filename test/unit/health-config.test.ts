/**
 * Validation of `healthCheck` and `passive`: each invalid value throws a TypeError starting
 * `switchyard: <option>` and naming the exact key; valid ones resolve with their defaults.
 */
import { describe, expect, it } from 'vitest';
import { normalizeConfig } from '../../src/config/normalize-config.js';
import { proxy, type ProxyConfig } from '../../src/index.js';
import { deadTargetUrl } from '../helpers/dead-target.js';
import { startingWith } from '../helpers/match.js';

const T = 'http://127.0.0.1:3001';

function thrownBy(extra: Record<string, unknown>): Error {
  try {
    const cfg = normalizeConfig({ targets: T, ...extra } as ProxyConfig);
    cfg.passive?.close();
  } catch (err) {
    return err as Error;
  }
  throw new Error(`accepted ${JSON.stringify(extra)}`);
}

describe('healthCheck validation', () => {
  it.each<[string, unknown, string]>([
    ['not an object', '/health', 'switchyard: healthCheck must be an object, got "/health"'],
    ['null', null, 'switchyard: healthCheck must be an object'],
    ['path missing', {}, "switchyard: healthCheck.path must be a path starting with /, got undefined, e.g. healthCheck: { path: '/health' }"],
    ['path not absolute', { path: 'health' }, 'switchyard: healthCheck.path must be a path starting with /'],
    ['path a full URL', { path: 'http://h/health' }, 'switchyard: healthCheck.path must be a path starting with /'],
    ['path with a space', { path: '/he alth' }, 'switchyard: healthCheck.path must be a path starting with /'],
    ['path with a control character', { path: '/health\r\nX: y' }, 'switchyard: healthCheck.path must be a path starting with /'],
    ['path with a fragment', { path: '/health#x' }, 'switchyard: healthCheck.path must be a path starting with /'],
    ['unknown key', { path: '/h', intervall: 5 }, 'switchyard: healthCheck.intervall is not an option; did you mean "healthCheck.interval"?'],
    ['interval 0', { path: '/h', interval: 0 }, "switchyard: healthCheck.interval must be an integer >= 1, got 0, e.g. healthCheck: { path: '/health', interval: 10000 }"],
    ['interval a string', { path: '/h', interval: '10s' }, 'switchyard: healthCheck.interval must be an integer >= 1'],
    ['interval Infinity', { path: '/h', interval: Infinity }, 'switchyard: healthCheck.interval must be an integer >= 1'],
    ['timeout negative', { path: '/h', timeout: -1 }, 'switchyard: healthCheck.timeout must be an integer >= 1'],
    ['timeout fractional', { path: '/h', timeout: 1.5 }, 'switchyard: healthCheck.timeout must be an integer >= 1'],
    ['port 0', { path: '/h', port: 0 }, 'switchyard: healthCheck.port must be an integer from 1 to 65535, got 0'],
    ['port too large', { path: '/h', port: 65536 }, 'switchyard: healthCheck.port must be an integer from 1 to 65535'],
    ['port a string', { path: '/h', port: '9000' }, 'switchyard: healthCheck.port must be an integer from 1 to 65535'],
    ['expectStatus not an array', { path: '/h', expectStatus: 200 }, 'switchyard: healthCheck.expectStatus must be an array of HTTP status codes'],
    ['expectStatus out of range', { path: '/h', expectStatus: [200, 700] }, 'switchyard: healthCheck.expectStatus must be an array of HTTP status codes'],
    ['expectStatus empty', { path: '/h', expectStatus: [] }, 'switchyard: healthCheck.expectStatus must list at least one status'],
    ['healthyAfter 0', { path: '/h', healthyAfter: 0 }, "switchyard: healthCheck.healthyAfter must be an integer >= 1, got 0, e.g. healthCheck: { path: '/health', healthyAfter: 2 }"],
    ['unhealthyAfter fractional', { path: '/h', unhealthyAfter: 2.5 }, 'switchyard: healthCheck.unhealthyAfter must be an integer >= 1'],
  ])('%s', (_label, healthCheck, message) => {
    const err = thrownBy({ healthCheck });
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toMatch(startingWith(message));
  });

  it('resolves the defaults', () => {
    const cfg = normalizeConfig({ targets: T, healthCheck: { path: '/health' } });
    expect(cfg.healthCheck).toEqual({
      path: '/health', interval: 10_000, timeout: 5_000, port: undefined, expectStatus: undefined, healthyAfter: 1, unhealthyAfter: 1,
    });
    expect(Object.isFrozen(cfg.healthCheck)).toBe(true);
  });

  it('keeps every given value (query in the path allowed)', () => {
    const cfg = normalizeConfig({
      targets: T,
      healthCheck: { path: '/health?deep=1', interval: 500, timeout: 100, port: 9000, expectStatus: [200, 204], healthyAfter: 2, unhealthyAfter: 3 },
    });
    expect(cfg.healthCheck).toEqual({
      path: '/health?deep=1', interval: 500, timeout: 100, port: 9000, expectStatus: new Set([200, 204]), healthyAfter: 2, unhealthyAfter: 3,
    });
  });

  it('is off by default', () => {
    expect(normalizeConfig({ targets: T }).healthCheck).toBeUndefined();
  });
});

describe('passive validation', () => {
  it.each<[string, unknown, string]>([
    ['not an object', 3, 'switchyard: passive must be an object, got 3'],
    ['unknown key', { maxFail: 3 }, 'switchyard: passive.maxFail is not an option; did you mean "passive.maxFails"?'],
    ['maxFails 0', { maxFails: 0 }, 'switchyard: passive.maxFails must be an integer >= 1, got 0, e.g. passive: { maxFails: 3 }'],
    ['maxFails fractional', { maxFails: 1.5 }, 'switchyard: passive.maxFails must be an integer >= 1'],
    ['maxFails NaN', { maxFails: NaN }, 'switchyard: passive.maxFails must be an integer >= 1'],
    ['failTimeout 0', { failTimeout: 0 }, 'switchyard: passive.failTimeout must be an integer >= 1, got 0, e.g. passive: { failTimeout: 10000 }'],
    ['failTimeout a string', { failTimeout: '10s' }, 'switchyard: passive.failTimeout must be an integer >= 1'],
  ])('%s', (_label, passive, message) => {
    const err = thrownBy({ passive });
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toMatch(startingWith(message));
  });

  it('creates a tracker for {} and none when off', () => {
    const on = normalizeConfig({ targets: T, passive: {} });
    expect(typeof on.passive?.recordFailure).toBe('function');
    on.passive?.close();
    expect(normalizeConfig({ targets: T }).passive).toBeUndefined();
  });
});

describe('proxy() accepts both and close() releases them', () => {
  it('accepts healthCheck and passive together', async () => {
    // The first check round starts at once: point it at a port nothing listens on.
    const mw = proxy({ targets: await deadTargetUrl(), healthCheck: { path: '/health', interval: 60_000 }, passive: { maxFails: 3, failTimeout: 5000 } });
    await expect(mw.close()).resolves.toBeUndefined();
    await expect(mw.close()).resolves.toBeUndefined();
  });
});
