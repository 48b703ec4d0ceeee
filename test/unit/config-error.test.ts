/**
 * One config error type with one message shape, `switchyard: <option> <problem>[, e.g. <example>]`,
 * whichever module found the problem; the CLI recognises it by class, never by message.
 */
import { describe, expect, it } from 'vitest';
import { CliError, isConfigError } from '../../src/cli/cli-error.js';
import { createProxy } from '../../src/cli/create-proxy.js';
import { ConfigError, formatConfigMessage } from '../../src/errors/config-error.js';
import { proxy, type ProxyConfig } from '../../src/index.js';
import { configErrorFrom } from '../helpers/config-error.js';

const T = 'http://127.0.0.1:3001';

describe('ConfigError', () => {
  it.each<[string, string, string, string | undefined, string]>([
    ['with an example', 'timeout', 'must be an integer >= 1, got 0', 'timeout: 30000', 'switchyard: timeout must be an integer >= 1, got 0, e.g. timeout: 30000'],
    ['without an example', 'tls', 'needs both cert and key', undefined, 'switchyard: tls needs both cert and key'],
    ['a nested option path', 'targets[1].url', 'must use http:', "'http://h'", "switchyard: targets[1].url must use http:, e.g. 'http://h'"],
  ])('formats a message %s', (_case, option, problem, example, message) => {
    const err = new ConfigError(option, problem, example);
    expect(err.message).toBe(message);
    expect(formatConfigMessage(option, problem, example)).toBe(message);
    expect([err.option, err.problem, err.example, err.name]).toEqual([option, problem, example, 'ConfigError']);
    expect(err).toBeInstanceOf(TypeError);
    expect(err).toBeInstanceOf(ConfigError);
  });

  it('is recognised across builds by its Symbol.for brand, not by its message', () => {
    const fromOtherBuild = Object.defineProperty(new TypeError('switchyard: x y'), Symbol.for('switchyard.ConfigError'), { value: true });
    expect(fromOtherBuild).toBeInstanceOf(ConfigError);
    expect(new TypeError('switchyard: timeout must be a number')).not.toBeInstanceOf(ConfigError);
    expect(null).not.toBeInstanceOf(ConfigError);
  });
});

/** [module that finds it, config, option path, problem pattern, example (undefined: none)]. */
const SHAPES: Array<[string, Record<string, unknown>, string, RegExp, string | undefined]> = [
  ['config/normalize-config (the config itself)', [T] as unknown as Record<string, unknown>, 'proxy() config', /^must be an object, got an array of 1$/, "proxy({ targets: 'http://127.0.0.1:3001' })"],
  ['config/validate (unknown option)', { targets: T, timout: 1 }, 'timout', /^is not an option; did you mean "timeout"\?$/, undefined],
  ['config/validate (unknown nested key)', { targets: T, pool: { maxSocket: 1 } }, 'pool.maxSocket', /^is not an option; did you mean "pool\.maxSockets"\?$/, undefined],
  ['config/validate (number)', { targets: T, timeout: 0 }, 'timeout', /^must be an integer >= 1, got 0$/, 'timeout: 30000'],
  ['config/validate (boolean)', { targets: T, xfwd: 'yes' }, 'xfwd', /^must be true or false, got "yes"$/, undefined],
  ['config/normalize-config (healthCheck)', { targets: T, healthCheck: { path: 'h' } }, 'healthCheck.path', /^must be a path starting with \/, got "h"$/, "healthCheck: { path: '/health' }"],
  ['config/tls-material', { targets: T, tls: { ca: 'nope' } }, 'tls.ca', /^must be a PEM CA certificate or bundle, got a string of 4 characters with no PEM block$/, "fs.readFileSync('ca.pem')"],
  ['balancer/target', { targets: ['http://a:1', 'ftp://b'] }, 'targets[1]', /^must use http:, https:, ws: or wss:, got "ftp:\/\/b"$/, "'http://127.0.0.1:3001'"],
  ['balancer/target (object key)', { targets: [{ url: 'ftp://b' }] }, 'targets[0].url', /^must use http:/, "'http://127.0.0.1:3001'"],
  ['balancer/balancer', { targets: [T, T] }, 'targets[1]', /^is named "127\.0\.0\.1:3001", which another target already has/, "{ url: 'http://127.0.0.1:3001', name: 'api-2' }"],
  ['balancer/resolve-balancer', { targets: T, balancer: 'fastest' }, 'balancer', /^must be one of 'round_robin', .*, got "fastest"$/, "balancer: 'least_conn'"],
  ['balancer/policy-args', { targets: T, balancer: { header: 'a b' } }, 'balancer.header', /^must be a header name such as 'X-User', got "a b"$/, "{ header: 'X-User' }"],
  ['routing/template', { targets: T, to: 'v2{path}' }, 'to', /^must be a path starting with "\/" or "\{path\}"/, "'/v2{path}{query}' or 'http://127.0.0.1:3001/v2{path}{query}'"],
  ['routing/placeholders', { targets: T, to: '/{nope}' }, 'to', /^has an unknown placeholder \{nope\}; use /, undefined],
  ['routing/rewrite', { targets: T, regexRewrite: [['^/a', '/b']] }, 'regexRewrite[0]', /^must be a \[RegExp, string\] pair, got an array$/, "[[/^\\/old\\/(.*)$/, '/new/$1']]"],
  ['routing/skip', { targets: T, except: 'static' }, 'except', /^must be an array of path prefixes starting with "\/", got "static"$/, "['/static', '/health']"],
  ['headers/header-rules', { targets: T, headers: { 'X-A': 1 } }, "headers['X-A']", /^must be a string, null or a function of the request, got number$/, "{ 'X-A': 'value' }"],
  ['headers/forwarded', { targets: T, trustProxy: ['10.0.0.0/33'] }, 'trustProxy', /^has an invalid entry '10\.0\.0\.0\/33'; use IPs or CIDRs$/, "['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8']"],
];

describe('every module throws the one shape', () => {
  it.each(SHAPES)('%s', (_module, config, option, problem, example) => {
    const err = configErrorFrom(() => proxy(config as ProxyConfig));
    expect(err.option).toBe(option);
    expect(err.problem).toMatch(problem);
    expect(err.example).toBe(example);
  });
});

describe('the CLI recognises config errors by class', () => {
  it('turns a ConfigError from proxy() into a CliError naming the config file', () => {
    let thrown: unknown;
    try {
      createProxy({ targets: T, timeout: 0 }, '/srv/sy.json');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(CliError);
    expect((thrown as CliError).message).toBe('switchyard: timeout must be an integer >= 1, got 0, e.g. timeout: 30000 (in /srv/sy.json)');
    expect((thrown as CliError).exitCode).toBe(2);
  });

  it('does not take a TypeError for a config error because of its message', () => {
    expect(isConfigError(new TypeError('switchyard: looks like one'))).toBe(false);
    expect(isConfigError(new ConfigError('timeout', 'must be a number'))).toBe(true);
  });
});
