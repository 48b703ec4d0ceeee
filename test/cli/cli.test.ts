// The real `switchyard` bin, spawned: help, errors, proxying, config files, retries, policies
// and health checks. `npm test` builds dist/ first (pretest).
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { deadTargetUrl } from '../helpers/dead-target.js';
import { startingWith } from '../helpers/match.js';
import { closeAll, startUpstream, startUpstreams, type EchoResponse, type Upstream } from '../helpers/upstream.js';
import { get, getJson } from './http-get.js';
import { runCli, startCli, type CliProcess } from './spawn-cli.js';

const LISTEN = ['--listen', '127.0.0.1:0'];
const REQUEST_LINE = /^\S+Z (?:w\d+ )?(\S+) (\S+) (\d{3}) (\S+) (\d+\.\d)ms(?: (.*))?$/;

const running: CliProcess[] = [];
const upstreams: Upstream[] = [];
afterEach(async () => {
  for (const cli of running.splice(0)) cli.kill();
  await closeAll(upstreams.splice(0));
});

async function cli(args: string[], opts?: { cwd?: string }) {
  const started = await startCli(args, opts);
  running.push(started);
  return started;
}

/** `n` echo upstreams named u0, u1, …, closed after each test. */
async function ups(n: number) {
  const list = await startUpstreams(n);
  upstreams.push(...list);
  return list;
}

describe('switchyard --help / --version', () => {
  it('prints usage and exits 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: switchyard \[options\]/);
    const flags = [
      '--listen', '--target', '--balancer', '--health-path', '--retries', '--workers', '--config', '--drain-timeout',
      '--connect-timeout', '--preserve-host', '--header-up', '--header-down', '--ws', '--http2', '--tls-ca', '--insecure',
      '--discover', '--discover-type', '--dns-server', '--admin', '--log-format',
    ];
    for (const flag of flags) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stderr).toBe('');
  });

  it('prints the package version', async () => {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const r = await runCli(['-v']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });
});

describe('bad flags and config: a clear message and exit code 2', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'switchyard-cli-'));
    await writeFile(path.join(dir, 'typo.json'), JSON.stringify({ listen: 0, target: 'http://127.0.0.1:1' }));
    await writeFile(path.join(dir, 'bad.json'), '{ nope');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each([
    [['--bogus'], "switchyard: unknown option '--bogus'; run switchyard --help for usage"],
    [['--target'], "switchyard: option '-t, --target <value>' argument missing; run switchyard --help for usage"],
    [['--retries', 'x', '-t', 'http://127.0.0.1:1'], 'switchyard: --retries must be a number, got "x"; run switchyard --help for usage'],
    [['--listen', 'nope', '-t', 'http://127.0.0.1:1'], 'switchyard: --listen must be a port or host:port, e.g. 8080, 127.0.0.1:8080 or [::1]:8080; got "nope"'],
    [[], 'switchyard: no upstream given; pass --target http://127.0.0.1:3001 (repeat for more), --discover <dns name> or --config <file>; run switchyard --help for usage'],
    // proxy() validates the options; its message names the option.
    [[...LISTEN, '-t', '127.0.0.1:3001'], 'switchyard: targets[0] is not a valid absolute URL, got "127.0.0.1:3001" (did you mean "http://127.0.0.1:3001"?)'],
    [[...LISTEN, '-t', 'http://127.0.0.1:1', '--retries=-1'], 'switchyard: retries must be an integer >= 0, got -1, e.g. retries: 2'],
    [[...LISTEN, '-t', 'http://127.0.0.1:1', '-b', 'header:'], 'switchyard: --balancer header:<Name>, e.g. --balancer header:X-User-Id'],
    // With --workers the primary checks the config once, before forking.
    [[...LISTEN, '-t', 'http://127.0.0.1:1', '--timeout', '0', '--workers', '2'], 'switchyard: timeout must be'],
    [[...LISTEN, '-t', 'http://127.0.0.1:1', '--tls-ca', 'nope.pem'], 'switchyard: --tls-ca nope.pem: file not found'],
    [[...LISTEN, '-t', 'http://127.0.0.1:1', '--header-up', 'X-A'], "switchyard: --header-up must be 'Name: value' (set) or '-Name' (remove)"],
    [[...LISTEN, '-t', 'http://127.0.0.1:1', '--health-interval', '0', '--health-path', '/h'], 'switchyard: healthCheck.interval'],
    [['-c', 'missing.json'], 'switchyard: --config missing.json: file not found'],
    [['-c', 'bad.json'], 'switchyard: --config bad.json is not valid JSON'],
    [['-c', 'typo.json'], "switchyard: target is an http-proxy-middleware option; use targets, one URL or a list to balance, e.g. targets: 'http://127.0.0.1:3001'"],
  ])('%j', async (argv, message) => {
    const r = await runCli(argv, { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(startingWith(message));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('names the config file when proxy() refuses an option from it', async () => {
    const r = await runCli(['-c', 'typo.json'], { cwd: dir });
    expect(r.stderr.trim()).toMatch(/\(in .*typo\.json\)$/);
  });
});

describe('serving', () => {
  it('balances round robin, prints a summary and one line per request', async () => {
    const [a, b] = await ups(2);
    const proc = await cli([...LISTEN, '--target', a!.url, '--target', b!.url]);
    expect(proc.lines().slice(1, 7)).toEqual([
      `  targets   ${a!.url}`,
      `            ${b!.url}`,
      '  balancer  round_robin',
      '  retries   0',
      '  health    off',
      `  workers   1 (pid ${proc.child.pid})`,
    ]);

    const names: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { status, json } = await getJson<EchoResponse>(`${proc.url}/users/${i}?token=secret`);
      expect(status).toBe(200);
      expect(json.url).toBe(`/users/${i}?token=secret`);
      names.push(json.name);
    }
    expect(names).toEqual(['u0', 'u1', 'u0', 'u1']);

    const lines = await proc.waitForCount(REQUEST_LINE, 4);
    const fields = lines.map((l) => REQUEST_LINE.exec(l)!.slice(1, 5));
    expect(fields).toEqual([0, 1, 2, 3].map((i) => ['GET', `/users/${i}`, '200', i % 2 === 0 ? `127.0.0.1:${a!.port}` : `127.0.0.1:${b!.port}`]));
    // The query string is not logged: it often carries tokens.
    expect(proc.stdout()).not.toContain('secret');
  });

  it('logs a failed request on stderr with its error code, attempts and cause, and "-" when no target was chosen', async () => {
    const dead = await deadTargetUrl();
    const host = new URL(dead).host;
    const proc = await cli([...LISTEN, '-t', dead]);
    expect((await get(`${proc.url}/x`)).status).toBe(502);
    const [line] = await proc.waitForErrCount(REQUEST_LINE, 1);
    expect(REQUEST_LINE.exec(line!)!.slice(1, 5)).toEqual(['GET', '/x', '502', host]);
    expect(REQUEST_LINE.exec(line!)![6]).toBe(`UPSTREAM_UNAVAILABLE attempts=1 cause=ECONNREFUSED ${host}`);
    expect((await get(`${proc.url}/a/../../etc`)).status).toBe(400);
    const lines = await proc.waitForErrCount(REQUEST_LINE, 2);
    expect(REQUEST_LINE.exec(lines[1]!)!.slice(1, 5)).toEqual(['GET', '/a/../../etc', '400', '-']);
    expect(REQUEST_LINE.exec(lines[1]!)![6]).toBe('BAD_REQUEST attempts=0 cause=request path is not allowed');
    expect(proc.lines().some((l) => REQUEST_LINE.test(l))).toBe(false);
  });

  it('logs each retry on stderr and the attempts on the request line', async () => {
    const [live] = await ups(1);
    const dead = await deadTargetUrl();
    const deadHost = new URL(dead).host;
    const proc = await cli([...LISTEN, '-t', dead, '-t', live!.url, '--retries', '1', '-b', 'first']);
    expect((await get(`${proc.url}/r`)).status).toBe(200);
    const [line] = await proc.waitForCount(REQUEST_LINE, 1);
    expect(REQUEST_LINE.exec(line!)!.slice(3, 7)).toEqual(['200', `127.0.0.1:${live!.port}`, expect.any(String), 'attempts=2']);
    const [retry] = await proc.waitForErrCount(/ retry /, 1);
    expect(retry).toMatch(
      new RegExp(`^\\S+Z retry GET /r attempt=2 upstream=127\\.0\\.0\\.1:${live!.port} after ${deadHost} UPSTREAM_UNAVAILABLE cause=ECONNREFUSED ${deadHost}$`),
    );
  });

  it('--log-format json writes one object per line with stable field names', async () => {
    const [a] = await ups(1);
    const dead = await deadTargetUrl();
    const proc = await cli([...LISTEN, '-t', a!.url, '--log-format', 'json']);
    expect((await get(`${proc.url}/j?secret=1`)).status).toBe(200);
    const [ok] = await proc.waitForCount(/"msg":"request"/, 1);
    expect(JSON.parse(ok!)).toEqual({
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
      level: 'info',
      msg: 'request',
      method: 'GET',
      path: '/j',
      status: 200,
      upstream: `127.0.0.1:${a!.port}`,
      durationMs: expect.any(Number),
      attempts: 1,
    });
    const summary = JSON.parse(proc.lines()[0]!) as { level: string; msg: string };
    expect(summary.level).toBe('info');
    expect(summary.msg).toMatch(/^switchyard \S+ listening on http:\/\/127\.0\.0\.1:\d+\n {2}targets/);
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
    expect(proc.lines().map((l) => (JSON.parse(l) as { msg: string }).msg).at(-1)).toBe('stopped');

    const failing = await cli([...LISTEN, '-t', dead, '--log-format', 'json']);
    expect((await get(`${failing.url}/f`)).status).toBe(502);
    const [bad] = await failing.waitForErrCount(/"msg":"request"/, 1);
    expect(JSON.parse(bad!)).toMatchObject({
      level: 'error', msg: 'request', status: 502, error: 'UPSTREAM_UNAVAILABLE', attempts: 1, cause: `ECONNREFUSED ${new URL(dead).host}`,
    });
  });

  it('--quiet prints the summary but no request lines', async () => {
    const [a] = await ups(1);
    const proc = await cli([...LISTEN, '-q', '-t', a!.url]);
    expect((await get(`${proc.url}/`)).status).toBe(200);
    expect(a!.requests).toHaveLength(1);
    // Once it has exited, everything it would have logged is in.
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
    expect(proc.lines().some((l) => REQUEST_LINE.test(l))).toBe(false);
    expect(proc.lines().at(-1)).toBe('stopped');
  });

  it('--retries moves a failed attempt to the next target', async () => {
    const [live] = await ups(1);
    const dead = await deadTargetUrl();
    const proc = await cli([...LISTEN, '-t', dead, '-t', live!.url, '--retries', '1']);
    expect(proc.stdout()).toContain('  retries   1');
    for (let i = 0; i < 4; i++) expect((await getJson<EchoResponse>(`${proc.url}/r`)).json.name).toBe('u0');
    const lines = await proc.waitForCount(REQUEST_LINE, 4);
    expect(lines.every((l) => REQUEST_LINE.exec(l)![4] === `127.0.0.1:${live!.port}`)).toBe(true);
  });

  it('--balancer least_conn sends to the target with fewer requests in flight', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    const slow = await startUpstream(async (_req, res) => {
      await held;
      res.end('slow');
    }, { name: 'slow' });
    const [fast] = await ups(1);
    upstreams.push(slow);
    const proc = await cli([...LISTEN, '-t', slow.url, '-t', fast!.url, '--balancer', 'least_conn']);
    expect(proc.stdout()).toContain('  balancer  least_conn');
    // Idle targets tie, and ties rotate in list order: the first request goes to `slow` and stays.
    const arrived = once(slow.server, 'request');
    const pending = get(`${proc.url}/hold`);
    await arrived;
    for (let i = 0; i < 3; i++) expect((await getJson<EchoResponse>(`${proc.url}/q`)).json.name).toBe('u0');
    release();
    expect((await pending).body).toBe('slow');
  });

  it('--health-path takes a failing target out until it passes', async () => {
    let sick = true;
    const flaky = await startUpstream((req, res) => {
      if (req.url === '/health') res.writeHead(sick ? 503 : 200).end();
      else res.end('flaky');
    }, { name: 'flaky' });
    const [ok] = await ups(1);
    upstreams.push(flaky);
    const checks = (): number => flaky.requests.filter((r) => r.url === '/health').length;
    // Checks of one target never overlap: once check n+1 arrives, check n's verdict is in.
    const untilChecks = async (n: number): Promise<void> => {
      while (checks() < n) await once(flaky.server, 'request');
    };
    const names = async (n: number): Promise<string[]> => {
      const seen: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = await get(`${proc.url}/p`);
        seen.push(r.body === 'flaky' ? 'flaky' : (JSON.parse(r.body) as EchoResponse).name);
      }
      return seen;
    };
    const proc = await cli([...LISTEN, '-t', flaky.url, '-t', ok!.url, '--health-path', '/health', '--health-interval', '50']);
    expect(proc.stdout()).toContain('  health    GET /health every 50ms');

    await untilChecks(2);
    expect(await names(4)).toEqual(['u0', 'u0', 'u0', 'u0']);
    const down = `health 127.0.0.1:${flaky.port} down (active)`;
    expect(proc.errLines().filter((l) => l.endsWith(down))).toHaveLength(1);

    sick = false;
    await untilChecks(checks() + 2);
    expect((await names(4)).filter((n) => n === 'flaky').length).toBeGreaterThanOrEqual(1);
    expect(proc.lines().filter((l) => /^\S+Z health \S+ up \(active\)$/.test(l))).toEqual([expect.stringContaining(`127.0.0.1:${flaky.port} up`)]);
  });
});

describe('--config', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'switchyard-cli-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads listen and proxy() options from JSON', async () => {
    const [a] = await ups(1);
    await writeFile(
      path.join(dir, 'switchyard.config.json'),
      JSON.stringify({ listen: '127.0.0.1:0', targets: [{ url: `${a!.url}/v2`, name: 'api' }], headers: { 'x-from': 'cli' } }),
    );
    const proc = await cli(['--config', 'switchyard.config.json'], { cwd: dir });
    expect(proc.stdout()).toContain(`  targets   ${a!.url}/v2 (api)`);
    expect(proc.stdout()).toContain(`  config    ${path.join(dir, 'switchyard.config.json')}`);
    const { json } = await getJson<EchoResponse>(`${proc.url}/users`);
    expect(json.url).toBe('/v2/users');
    expect(json.headers['x-from']).toBe('cli');
    const [line] = await proc.waitForCount(REQUEST_LINE, 1);
    expect(REQUEST_LINE.exec(line!)![4]).toBe('api');
  });

  it('ws: true in the config proxies WebSocket upgrades', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    wss.on('connection', (socket, req) => socket.on('message', (data) => socket.send(`${req.url} echo: ${String(data)}`)));
    try {
      const { port } = wss.address() as { port: number };
      await writeFile(path.join(dir, 'ws.json'), JSON.stringify({ targets: [`http://127.0.0.1:${port}`], ws: true }));
      const proc = await cli(['-c', 'ws.json', ...LISTEN], { cwd: dir });
      const client = new WebSocket(`${proc.url.replace('http:', 'ws:')}/chat`);
      await once(client, 'open');
      client.send('hi');
      const [reply] = (await once(client, 'message')) as [Buffer];
      expect(String(reply)).toBe('/chat echo: hi');
      client.close();
      await once(client, 'close');
    } finally {
      for (const c of wss.clients) c.terminate();
      await new Promise((resolve) => wss.close(resolve));
    }
  });

  it('runs functions from an .mjs config; flags override it', async () => {
    const [a, b] = await ups(2);
    await writeFile(
      path.join(dir, 'switchyard.config.mjs'),
      [
        'export default {',
        "  listen: '127.0.0.1:1',", // overridden by --listen below
        `  targets: ['${a!.url}'],`,
        "  headers: { 'x-method': (req) => req.method.toLowerCase() },",
        "  modifyResponse(proxyRes) { proxyRes.headers['x-modified'] = 'yes'; },",
        '};',
      ].join('\n'),
    );
    const proc = await cli(['-c', 'switchyard.config.mjs', ...LISTEN, '-t', b!.url], { cwd: dir });
    const reply = await get(`${proc.url}/m`, { method: 'POST', body: 'x' });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-modified']).toBe('yes');
    const json = JSON.parse(reply.body) as EchoResponse;
    expect(json.name).toBe('u1');
    expect(json.headers['x-method']).toBe('post');
    expect(a!.requests).toHaveLength(0);
  });
});
