/**
 * `discover` validation (src/config/discover-option.ts): every key's mistakes make `proxy()`
 * throw a ConfigError naming `discover.<key>`, and valid settings resolve with their defaults.
 * Only rejected configs reach `proxy()` here (they throw before any lookup); accepted ones go
 * through `resolveDiscover` alone, so no DNS question is ever sent.
 */
import { describe, expect, it } from 'vitest';
import { resolveDiscover } from '../../src/config/discover-option.js';
import { DEFAULTS } from '../../src/config/defaults.js';
import { proxy, type DiscoverOptions, type ProxyConfig } from '../../src/index.js';
import { configErrorFrom } from '../helpers/config-error.js';

const OK = { dns: 'api.test', servers: ['127.0.0.1:5353'] };

const INVALID: Array<[string, unknown, string, RegExp]> = [
  ['not an object', 'api.test', 'discover', /must be an object, got "api.test", e.g. discover: { dns: 'api.internal', port: 8080 }/],
  ['unknown key', { ...OK, intervall: 5 }, 'discover.intervall', /did you mean "discover\.interval"/],
  ['dns missing', { servers: OK.servers }, 'discover.dns', /must be a DNS name, got undefined/],
  ['dns not a string', { ...OK, dns: 42 }, 'discover.dns', /must be a DNS name, got 42/],
  ['dns a URL', { ...OK, dns: 'http://api.test:8080' }, 'discover.dns', /must be a bare DNS name \(scheme and port are separate keys\)/],
  ['dns an IP address', { ...OK, dns: '10.0.0.1' }, 'discover.dns', /is an IP address.*targets: 'http:\/\/10\.0\.0\.1'/],
  ['dns with a space', { ...OK, dns: 'api test' }, 'discover.dns', /must be a DNS name, got "api test"/],
  ['dns with an empty label', { ...OK, dns: 'api..test' }, 'discover.dns', /must be a DNS name/],
  ['type lower case', { ...OK, type: 'srv' }, 'discover.type', /must be 'A', 'AAAA' or 'SRV'.*got "srv"/],
  ['type CNAME', { ...OK, type: 'CNAME' }, 'discover.type', /must be 'A', 'AAAA' or 'SRV'/],
  ['port 0', { ...OK, port: 0 }, 'discover.port', /must be an integer from 1 to 65535, got 0/],
  ['port too large', { ...OK, port: 65536 }, 'discover.port', /from 1 to 65535/],
  ['port a string', { ...OK, port: '8080' }, 'discover.port', /from 1 to 65535, got "8080"/],
  ['port with SRV', { ...OK, type: 'SRV', port: 8080 }, 'discover.port', /cannot be given with type SRV: each SRV record carries its port/],
  ['scheme with a colon', { ...OK, scheme: 'https:' }, 'discover.scheme', /must be 'http' or 'https', got "https:"/],
  ['scheme ws', { ...OK, scheme: 'ws' }, 'discover.scheme', /must be 'http' or 'https'/],
  ['interval 0', { ...OK, interval: 0 }, 'discover.interval', /must be an integer >= 1, got 0/],
  ['interval fractional', { ...OK, interval: 1.5 }, 'discover.interval', /must be an integer >= 1/],
  ['servers empty', { ...OK, servers: [] }, 'discover.servers', /must be a non-empty array/],
  ['servers a string', { ...OK, servers: '127.0.0.1' }, 'discover.servers', /must be a non-empty array/],
  ['server a host name', { ...OK, servers: ['dns.internal'] }, 'discover.servers[0]', /must be an IP address with an optional port/],
  // Node 20's setServers aborts the process on port 0: it must never get that far.
  ['server port 0', { ...OK, servers: ['127.0.0.1:53', '127.0.0.1:0'] }, 'discover.servers[1]', /must be an IP address/],
  ['server port too large', { ...OK, servers: ['127.0.0.1:99999'] }, 'discover.servers[0]', /must be an IP address/],
  ['IPv4 in brackets', { ...OK, servers: ['[127.0.0.1]:53'] }, 'discover.servers[0]', /must be an IP address/],
];

describe('discover: invalid settings', () => {
  it.each(INVALID)('%s', (_case, discover, option, message) => {
    const err = configErrorFrom(() => proxy({ discover } as ProxyConfig));
    expect(err.option).toBe(option);
    expect(err.message).toMatch(message);
  });

  it('rejects a `to` with an origin: the targets come from DNS', () => {
    const err = configErrorFrom(() => proxy({ discover: OK, to: 'http://api.test/v2{path}' }));
    expect(err.option).toBe('to');
    expect(err.message).toMatch(/has origin http:\/\/api\.test, but discover finds the targets; give a path template/);
  });

  it('still reports a bad target when targets are given too', () => {
    const err = configErrorFrom(() => proxy({ discover: OK, targets: ['nope'] }));
    expect(err.option).toBe('targets[0]');
  });
});

describe('discover: valid settings', () => {
  it.each<[string, DiscoverOptions, object]>([
    ['defaults', { dns: 'api.test' }, { dns: 'api.test', type: ['A', 'AAAA'], port: 80, scheme: 'http', interval: DEFAULTS.discover.interval, servers: undefined }],
    ['https port default', { dns: 'api.test', scheme: 'https' }, { port: 443, scheme: 'https' }],
    ['AAAA only', { dns: 'api.test', type: 'AAAA', port: 8080 }, { type: ['AAAA'], port: 8080 }],
    ['SRV, no port', { dns: '_http._tcp.api.service.consul', type: 'SRV' }, { type: 'SRV', port: undefined }],
    ['a single label and a root dot', { dns: 'web.' }, { dns: 'web.' }],
    [
      'servers in every setServers form',
      { dns: 'api.test', servers: ['10.0.0.2', '127.0.0.1:5353', '::1', '[::1]:53'] },
      { servers: ['10.0.0.2', '127.0.0.1:5353', '::1', '[::1]:53'] },
    ],
  ])('%s', (_case, discover, expected) => {
    expect(resolveDiscover(discover)).toMatchObject(expected);
  });

  it('is off when left out', () => {
    expect(resolveDiscover(undefined)).toBeUndefined();
  });
});
