// The CLI's pure parts, table-driven: flags, listen addresses, config merging, log lines.
import path from 'node:path';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCliArgs } from '../../src/cli/args.js';
import { CliError } from '../../src/cli/cli-error.js';
import { formatOrigin, parseListenAddress } from '../../src/cli/listen-address.js';
import { sumStats } from '../../src/cli/cluster-admin.js';
import { describeCause } from '../../src/cli/log-format.js';
import { labelSample, mergeMetrics } from '../../src/cli/metrics-merge.js';
import { formatRequestLine } from '../../src/cli/request-log.js';
import { ProxyError } from '../../src/errors/proxy-error.js';
import { mergeProxyFlags, parseBalancerFlag, parseHeaderFlag } from '../../src/cli/proxy-flags.js';
import { resolveSettings } from '../../src/cli/settings.js';
import { formatSummary } from '../../src/cli/summary.js';
import { proxy } from '../../src/index.js';
import { startingWith } from '../helpers/match.js';

function usageError(fn: () => unknown): CliError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(2);
    return err as CliError;
  }
  throw new Error('expected a CliError');
}

describe('parseCliArgs', () => {
  it('parses the issue example', () => {
    const args = parseCliArgs([
      '--listen', '8080', '--target', 'http://127.0.0.1:3001', '--target', 'http://127.0.0.1:3002',
      '--balancer', 'least_conn', '--health-path', '/health', '--retries', '2',
    ]);
    expect(args).toMatchObject({
      listen: '8080',
      targets: ['http://127.0.0.1:3001', 'http://127.0.0.1:3002'],
      balancer: 'least_conn',
      healthPath: '/health',
      retries: 2,
      workers: undefined,
      quiet: false,
      help: false,
    });
  });

  it('takes short flags and --flag=value', () => {
    const args = parseCliArgs(['-l', '127.0.0.1:0', '-t', 'http://127.0.0.1:1', '-w', 'auto', '-q', '--timeout=500']);
    expect(args).toMatchObject({ listen: '127.0.0.1:0', targets: ['http://127.0.0.1:1'], workers: 'auto', quiet: true, timeout: 500 });
  });

  it.each([
    [['--bogus'], "switchyard: unknown option '--bogus'; run switchyard --help for usage"],
    [['--listen'], "switchyard: option '-l, --listen <value>' argument missing; run switchyard --help for usage"],
    [['extra'], "switchyard: unexpected argument 'extra'; run switchyard --help for usage"],
    [['--retries', 'two'], 'switchyard: --retries must be a number, got "two"; run switchyard --help for usage'],
    [['--workers', '0'], 'switchyard: --workers must be a whole number >= 1 or "auto", got "0"; run switchyard --help for usage'],
    [['--workers', '1.5'], 'switchyard: --workers must be a whole number >= 1 or "auto", got "1.5"; run switchyard --help for usage'],
    [['--health-interval', '10s'], 'switchyard: --health-interval must be a number, got "10s"; run switchyard --help for usage'],
  ])('refuses %j', (argv, message) => {
    expect(usageError(() => parseCliArgs(argv)).message).toBe(message);
  });

  it('explains how to pass a value starting with a dash', () => {
    expect(usageError(() => parseCliArgs(['--retries', '-1'])).message).toContain("'--retries=-XYZ'");
    expect(parseCliArgs(['--retries=-1']).retries).toBe(-1);
  });
});

describe('parseListenAddress', () => {
  it.each([
    ['8080', { host: '127.0.0.1', port: 8080 }],
    [':8080', { host: '127.0.0.1', port: 8080 }],
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
    ['localhost:3000', { host: 'localhost', port: 3000 }],
    ['[::1]:8080', { host: '::1', port: 8080 }],
    [9000, { host: '127.0.0.1', port: 9000 }],
  ])('%j', (input, expected) => {
    expect(parseListenAddress(input, '--listen')).toEqual(expected);
  });

  it.each(['abc', '65536', '127.0.0.1', '::1:80', '', '8080x', -1, 1.5, null])('refuses %j', (input) => {
    expect(usageError(() => parseListenAddress(input, '--listen')).message).toBe(
      `switchyard: --listen must be a port or host:port, e.g. 8080, 127.0.0.1:8080 or [::1]:8080; got ${JSON.stringify(input)}`,
    );
  });

  it('formats IPv6 origins with brackets', () => {
    expect(formatOrigin({ host: '::1', port: 80 })).toBe('http://[::1]:80');
    expect(formatOrigin({ host: '127.0.0.1', port: 80 })).toBe('http://127.0.0.1:80');
  });
});

describe('flags onto the config', () => {
  it.each([
    ['round_robin', 'round_robin'],
    ['header:X-User', { header: 'X-User' }],
    ['cookie:srv', { cookie: 'srv' }],
    ['ip_hash', 'ip_hash'],
  ])('--balancer %s', (flag, expected) => {
    expect(parseBalancerFlag(flag)).toEqual(expected);
  });

  it.each([
    ['header:', 'switchyard: --balancer header:<Name>, e.g. --balancer header:X-User-Id; got "header:", which has no name'],
    ['header:X User', 'switchyard: --balancer header:<Name>, e.g. --balancer header:X-User-Id; got "header:X User", which has an invalid name'],
    ['cookie:', 'switchyard: --balancer cookie:<name>, e.g. --balancer cookie:lb; got "cookie:", which has no name'],
    ['fastest', 'switchyard: --balancer must be round_robin, random, first, least_conn, ip_hash, uri_hash, header:<Name> or cookie:<name>; got "fastest"'],
  ])('--balancer %s is refused in the command line\'s own syntax', (flag, message) => {
    expect(usageError(() => parseBalancerFlag(flag)).message).toBe(message);
  });

  it.each([
    ['X-Real-Ip: {addr}', ['X-Real-Ip', '{addr}']],
    ['X-Empty:', ['X-Empty', '']],
    ['Via:  a: b ', ['Via', 'a: b']],
    ['-Server', ['Server', null]],
  ])('--header-up %j', (flag, expected) => {
    expect(parseHeaderFlag('header-up', flag)).toEqual(expected);
  });

  it.each(['X-Real-Ip', 'Bad Name: x', ': x', '-'])('--header-down %j is refused', (flag) => {
    expect(usageError(() => parseHeaderFlag('header-down', flag)).message).toBe(
      `switchyard: --header-down must be 'Name: value' (set) or '-Name' (remove), e.g. --header-down 'X-Real-Ip: {addr}'; got ${JSON.stringify(flag)}`,
    );
  });

  it('maps the transport and header flags, replacing file rules of the same name in any case', () => {
    const file = { headers: { 'x-from': 'file', 'X-Keep': 'yes' }, tls: { servername: 'api' } };
    const args = parseCliArgs([
      '--connect-timeout', '250', '--preserve-host', '--ws', '--http2', '--insecure',
      '--header-up', 'X-From: flag', '--header-up', '-Cookie', '--header-down', '-Server',
    ]);
    expect(mergeProxyFlags(file, args, 'PEM')).toEqual({
      connectTimeout: 250,
      preserveHost: true,
      ws: true,
      http2: true,
      headers: { 'X-Keep': 'yes', 'X-From': 'flag', Cookie: null },
      responseHeaders: { Server: null },
      tls: { servername: 'api', ca: 'PEM', verify: false },
    });
    expect(file.headers).toEqual({ 'x-from': 'file', 'X-Keep': 'yes' });
  });

  it('flags override the file and leave both objects unchanged', () => {
    const file = Object.freeze({
      targets: ['http://127.0.0.1:9'],
      retries: 1,
      healthCheck: Object.freeze({ path: '/old', interval: 500, expectStatus: [204] }),
      xfwd: false,
    });
    const args = parseCliArgs(['-t', 'http://127.0.0.1:1', '-t', 'http://127.0.0.1:2', '--retries', '3', '--health-path', '/health']);
    const merged = mergeProxyFlags(file, args);
    expect(merged).toEqual({
      targets: ['http://127.0.0.1:1', 'http://127.0.0.1:2'],
      retries: 3,
      healthCheck: { path: '/health', interval: 500, expectStatus: [204] },
      xfwd: false,
    });
    expect(merged.targets).not.toBe(args.targets);
  });

  it('adds nothing the flags do not mention', () => {
    expect(mergeProxyFlags({ timeout: 5 }, parseCliArgs([]))).toEqual({ timeout: 5 });
    expect(mergeProxyFlags({}, parseCliArgs(['--health-interval', '250']))).toEqual({ healthCheck: { interval: 250 } });
  });
});

describe('resolveSettings', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'switchyard-cli-'));
    await writeFile(path.join(dir, 'a.json'), JSON.stringify({ listen: '127.0.0.1:9001', targets: ['http://127.0.0.1:1'], retries: 1 }));
    await writeFile(path.join(dir, 'b.mjs'), "export default { listen: 9002, targets: 'http://127.0.0.1:2', skip: () => false };\n");
    await writeFile(path.join(dir, 'c.cjs'), "module.exports = { targets: ['http://127.0.0.1:3'] };\n");
    await writeFile(path.join(dir, 'list.json'), '[1, 2]');
    await writeFile(path.join(dir, 'broken.json'), '{ "targets": ');
    await writeFile(path.join(dir, 'noexport.mjs'), 'export const x = 1;\n');
    await writeFile(path.join(dir, 'throws.mjs'), "throw new Error('boom in config');\n");
    await writeFile(path.join(dir, 'bad-listen.json'), JSON.stringify({ listen: 'nope', targets: ['http://127.0.0.1:1'] }));
    await writeFile(path.join(dir, 'c.yaml'), 'targets: []\n');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const resolve = (argv: string[]) => resolveSettings(parseCliArgs(argv), dir);

  it('reads listen and the proxy options from JSON, and flags win', async () => {
    const s = await resolve(['-c', 'a.json']);
    expect(s.listen).toEqual({ host: '127.0.0.1', port: 9001 });
    expect(s.proxyConfig).toEqual({ targets: ['http://127.0.0.1:1'], retries: 1 });
    expect(s.configPath).toBe(path.join(dir, 'a.json'));
    const over = await resolve(['-c', 'a.json', '-l', '9005', '--retries', '0']);
    expect(over.listen.port).toBe(9005);
    expect(over.proxyConfig.retries).toBe(0);
  });

  it('imports .mjs and .cjs modules, keeping functions', async () => {
    const mjs = await resolve(['-c', 'b.mjs']);
    expect(mjs.listen.port).toBe(9002);
    expect(typeof mjs.proxyConfig.skip).toBe('function');
    const cjs = await resolve(['-c', 'c.cjs']);
    expect(cjs.proxyConfig.targets).toEqual(['http://127.0.0.1:3']);
    expect(cjs.listen).toEqual({ host: '127.0.0.1', port: 8080 });
  });

  it('defaults: 1 worker, 10 s drain, 127.0.0.1:8080', async () => {
    const s = await resolve(['-t', 'http://127.0.0.1:1']);
    expect(s).toMatchObject({ workers: 1, drainTimeout: 10_000, quiet: false, configPath: undefined });
    expect(s.listen).toEqual({ host: '127.0.0.1', port: 8080 });
    expect((await resolve(['-t', 'http://127.0.0.1:1', '-w', 'auto'])).workers).toBeGreaterThanOrEqual(1);
  });

  it.each([
    [['-c', 'missing.json'], 'switchyard: --config missing.json: file not found'],
    [['-c', 'missing.mjs'], 'switchyard: --config missing.mjs: file not found'],
    [['-c', 'list.json'], 'switchyard: --config list.json must hold a JSON object'],
    [['-c', 'broken.json'], 'switchyard: --config broken.json is not valid JSON'],
    [['-c', 'noexport.mjs'], 'switchyard: --config noexport.mjs must export a config object by default'],
    [['-c', 'throws.mjs'], 'switchyard: --config throws.mjs failed to load: boom in config'],
    [['-c', 'bad-listen.json'], 'switchyard: listen in bad-listen.json must be a port or host:port'],
    [['-c', 'c.yaml'], 'switchyard: --config c.yaml: use a .json, .mjs, .js or .cjs file'],
    [[], 'switchyard: no upstream given; pass --target'],
    [['-t', 'http://127.0.0.1:1', '--drain-timeout', '1.5'], 'switchyard: --drain-timeout must be a whole number of ms >= 0'],
    [['-t', 'http://127.0.0.1:1', '--keep-alive-timeout=-1'], 'switchyard: --keep-alive-timeout must be a whole number of ms >= 0'],
  ])('refuses %j', async (argv, message) => {
    const err = await resolve(argv).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(2);
    expect((err as CliError).message).toMatch(startingWith(message));
  });
});

describe('log lines', () => {
  it('formats a request line with method, path, status, upstream and duration', () => {
    const line = formatRequestLine({
      time: new Date('2025-01-31T12:00:00.000Z'),
      method: 'GET',
      path: '/api/users',
      status: 200,
      upstream: '127.0.0.1:3001',
      durationMs: 3.14159,
      attempts: 1,
    });
    expect(line).toBe('2025-01-31T12:00:00.000Z GET /api/users 200 127.0.0.1:3001 3.1ms');
  });

  it('adds the error code, attempts and cause on failure (the cause last: it may hold spaces)', () => {
    const base = { time: new Date(0), method: 'GET', path: '/x', upstream: 'u1', durationMs: 1 };
    expect(formatRequestLine({ ...base, status: 502, attempts: 3, error: 'UPSTREAM_UNAVAILABLE', cause: 'ECONNREFUSED 127.0.0.1:3001' })).toBe(
      '1970-01-01T00:00:00.000Z GET /x 502 u1 1.0ms UPSTREAM_UNAVAILABLE attempts=3 cause=ECONNREFUSED 127.0.0.1:3001',
    );
    // A retry that succeeded says how many attempts it took.
    expect(formatRequestLine({ ...base, status: 200, attempts: 2 })).toBe('1970-01-01T00:00:00.000Z GET /x 200 u1 1.0ms attempts=2');
    expect(formatRequestLine({ ...base, status: 502, attempts: 1, error: 'RESPONSE_HOOK_FAILED', cause: 'bad\nline' })).not.toContain('\n');
  });

  it('describes a cause by its code and what it names', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3001'), { code: 'ECONNREFUSED' });
    expect(describeCause(new ProxyError('UPSTREAM_UNAVAILABLE', 'x', { cause: refused }))).toBe('ECONNREFUSED 127.0.0.1:3001');
    const wrapped = new Error('fetch failed', { cause: refused });
    expect(describeCause(new ProxyError('UPSTREAM_UNAVAILABLE', 'x', { cause: wrapped }))).toBe('ECONNREFUSED 127.0.0.1:3001');
    const timeout = Object.assign(new Error('Connect Timeout Error'), { code: 'UND_ERR_CONNECT_TIMEOUT' });
    expect(describeCause(new ProxyError('UPSTREAM_UNAVAILABLE', 'x', { cause: timeout }))).toBe('UND_ERR_CONNECT_TIMEOUT Connect Timeout Error');
    expect(describeCause(new ProxyError('UNEXPECTED_STATUS', 'upstream u1 answered 500'))).toBeUndefined();
  });

  it('escapes control characters and spaces so a request cannot forge a line', () => {
    const line = formatRequestLine(
      { time: new Date(0), method: 'GET', path: '/a\nFAKE 200', status: 400, upstream: '-', durationMs: 0, attempts: 0 },
      'w2 ',
    );
    expect(line).toBe('1970-01-01T00:00:00.000Z w2 GET /a\\x0aFAKE\\x20200 400 - 0.0ms');
    expect(line.split('\n')).toHaveLength(1);
  });

  it('summarises listen address, targets, balancer, retries, health and workers', async () => {
    const mw = proxy({ targets: ['http://127.0.0.1:3001', { url: 'http://127.0.0.1:3002', name: 'b' }] });
    try {
      const lines = formatSummary({
        listen: { host: '127.0.0.1', port: 8080 },
        targets: mw.balancer.targets,
        proxyConfig: { balancer: 'least_conn', retries: 2, healthCheck: { path: '/health' } },
        workers: 4,
        configPath: '/etc/switchyard.json',
      });
      expect(lines[0]).toMatch(/^switchyard \S+ listening on http:\/\/127\.0\.0\.1:8080$/);
      expect(lines.slice(1)).toEqual([
        '  targets   http://127.0.0.1:3001',
        '            http://127.0.0.1:3002 (b)',
        '  balancer  least_conn',
        '  retries   2',
        '  health    GET /health every 10000ms',
        `  workers   4 (primary pid ${process.pid}); active health checks in the primary, passive per worker`,
        '  config    /etc/switchyard.json',
      ]);
    } finally {
      await mw.close();
    }
  });
});

describe('cluster admin: one answer from the workers', () => {
  const stat = (name: string, healthy: boolean, requests: number, statuses: Record<number, number>) => ({
    name, url: `http://${name}/`, healthy, active: 1, requests, failures: 0, statuses,
  });

  it('sums stats by target; healthy only when every worker says so', () => {
    expect(
      sumStats([
        [stat('a', true, 3, { 200: 3 }), stat('b', true, 1, { 502: 1 })],
        [stat('a', true, 2, { 200: 1, 404: 1 }), stat('b', false, 0, {})],
      ]),
    ).toEqual([
      { ...stat('a', true, 5, { 200: 4, 404: 1 }), active: 2 },
      { ...stat('b', false, 1, { 502: 1 }), active: 2 },
    ]);
  });

  it('merges Prometheus texts: each family once, every sample labelled with its worker', () => {
    const text = (n: number) =>
      [
        '# HELP switchyard_requests_total Requests.',
        '# TYPE switchyard_requests_total counter',
        `switchyard_requests_total{target="a",class="2xx"} ${n}`,
        '# HELP switchyard_in_flight In flight.',
        '# TYPE switchyard_in_flight gauge',
        `switchyard_in_flight ${n}`,
        '# TYPE switchyard_duration_seconds histogram',
        `switchyard_duration_seconds_bucket{le="+Inf"} ${n}`,
        `switchyard_duration_seconds_count ${n}`,
        '',
      ].join('\n');
    expect(mergeMetrics([{ worker: 1, text: text(3) }, { worker: 2, text: text(5) }])).toBe(
      [
        '# HELP switchyard_requests_total Requests.',
        '# TYPE switchyard_requests_total counter',
        'switchyard_requests_total{worker="1",target="a",class="2xx"} 3',
        'switchyard_requests_total{worker="2",target="a",class="2xx"} 5',
        '# HELP switchyard_in_flight In flight.',
        '# TYPE switchyard_in_flight gauge',
        'switchyard_in_flight{worker="1"} 3',
        'switchyard_in_flight{worker="2"} 5',
        '# TYPE switchyard_duration_seconds histogram',
        'switchyard_duration_seconds_bucket{worker="1",le="+Inf"} 3',
        'switchyard_duration_seconds_count{worker="1"} 3',
        'switchyard_duration_seconds_bucket{worker="2",le="+Inf"} 5',
        'switchyard_duration_seconds_count{worker="2"} 5',
        '',
      ].join('\n'),
    );
    expect(labelSample('x{} 1', 'worker="1"')).toBe('x{worker="1"} 1');
  });
});
