/**
 * `discover`: targets from DNS, against a DNS server on 127.0.0.1 started by the test
 * (helpers/dns-server.ts; every config passes `servers`, so no real resolver is ever asked),
 * with records changed between refreshes and real HTTP through the proxy to upstreams on
 * 127.0.0.1 whose ports come from SRV records.
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { once } from 'node:events';
import express from 'express';
import WebSocket, { WebSocketServer } from 'ws';
import { describe, expect, it } from 'vitest';
import { leastConn, proxy, type DiscoverOptions, type ProxyMiddleware, type ProxyTarget } from '../../src/index.js';
import { sendText } from '../helpers/client.js';
import { startDnsServer, type DnsServer, type SrvRecord } from '../helpers/dns-server.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { listen, type Listening } from '../helpers/listen.js';
import { until } from '../helpers/poll.js';
import { startUpstream, type EchoResponse, type Upstream } from '../helpers/upstream.js';

const { track, proxyFor, defer } = useCleanup();

const SRV_NAME = '_http._tcp.api.test';
/** Short, so records changed by a test are picked up within a few event-loop turns of waiting. */
const INTERVAL = 50;

async function dnsServer(records: Parameters<typeof startDnsServer>[0] = {}): Promise<DnsServer> {
  const dns = await startDnsServer(records);
  defer(() => dns.close());
  return dns;
}

/** An SRV record pointing at `up` through the host name `host` (which the table maps to 127.0.0.1). */
function srv(up: Upstream, host: string, weight = 1, priority = 10): SrvRecord {
  return { priority, weight, port: up.port, target: host };
}

/** SRV records for `entries`, and A records for their hosts. */
function srvTable(dns: DnsServer, entries: SrvRecord[]): void {
  dns.records.set(SRV_NAME, { SRV: entries });
  for (const e of entries) dns.records.set(e.target, { A: ['127.0.0.1'] });
}

function discoverFrom(dns: DnsServer, extra: Partial<DiscoverOptions> = {}): DiscoverOptions {
  return { dns: SRV_NAME, type: 'SRV', interval: INTERVAL, servers: [dns.address], ...extra };
}

async function front(mw: ProxyMiddleware, before?: express.RequestHandler): Promise<Listening> {
  const app = express();
  if (before !== undefined) app.use(before);
  return track(await listen(app.use('/api', mw)));
}

function names(mw: ProxyMiddleware): string[] {
  return mw.stats().map((s) => s.name).sort();
}

async function echo(url: string): Promise<EchoResponse> {
  const reply = await sendText(url);
  expect(reply.status, reply.body).toBe(200);
  return JSON.parse(reply.body) as EchoResponse;
}

/** Waits until `dns` has received `more` questions beyond those it has now: `more` refreshes' worth of time, counted in events. */
async function afterQuestions(dns: DnsServer, more: number): Promise<void> {
  const goal = dns.questions.length + more;
  await until(() => dns.questions.length >= goal, `${more} more DNS questions`);
}

/** Whether `::1` can be listened on here (containers often have IPv6 off). */
async function ipv6Loopback(): Promise<boolean> {
  const server = http.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(0, '::1', () => server.close(() => resolve(true)));
  });
}

describe('discover: SRV records', () => {
  it('sends real requests to the upstreams the SRV records name, on their ports, in proportion to their weights', async () => {
    const a = track(await startUpstream({ name: 'a' }));
    const b = track(await startUpstream({ name: 'b' }));
    const dns = await dnsServer();
    srvTable(dns, [srv(a, 'a.api.test', 3), srv(b, 'b.api.test', 1)]);
    const mw = proxyFor({ discover: discoverFrom(dns) });
    const proxySide = await front(mw);

    const seen: string[] = [];
    for (let i = 0; i < 8; i++) seen.push((await echo(`${proxySide.url}/api/x?i=${i}`)).name);
    expect(seen.filter((n) => n === 'a')).toHaveLength(6);
    expect(seen.filter((n) => n === 'b')).toHaveLength(2);
    expect(a.requests[0]?.url).toBe('/x?i=0');
    expect(names(mw)).toEqual([`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`].sort());
    expect(mw.balancer.targets.map((t) => [t.url.href, t.weight, t.meta])).toEqual(
      expect.arrayContaining([[`http://127.0.0.1:${a.port}/`, 3, { dns: SRV_NAME, host: 'a.api.test' }]]),
    );
  });

  it('uses only the lowest-priority group that has addresses (RFC 2782), falling back when it has none', async () => {
    const main = track(await startUpstream({ name: 'main' }));
    const backup = track(await startUpstream({ name: 'backup' }));
    const dns = await dnsServer();
    srvTable(dns, [srv(main, 'main.api.test', 1, 10), srv(backup, 'backup.api.test', 1, 20)]);
    const mw = proxyFor({ discover: discoverFrom(dns) });
    const proxySide = await front(mw);
    expect((await echo(`${proxySide.url}/api/`)).name).toBe('main');
    expect(names(mw)).toEqual([`127.0.0.1:${main.port}`]);

    // The main group's host is gone from DNS (NXDOMAIN): the backup group takes over.
    dns.records.delete('main.api.test');
    await until(() => names(mw).join() === `127.0.0.1:${backup.port}`, 'the backup group');
    expect((await echo(`${proxySide.url}/api/`)).name).toBe('backup');
  });

  it('follows records that change: a new target is added, a gone one removed, a survivor keeps its object and counters', async () => {
    const a = track(await startUpstream({ name: 'a' }));
    const b = track(await startUpstream({ name: 'b' }));
    const c = track(await startUpstream({ name: 'c' }));
    const dns = await dnsServer();
    srvTable(dns, [srv(a, 'a.api.test'), srv(b, 'b.api.test')]);
    const mw = proxyFor({ discover: discoverFrom(dns) });
    const proxySide = await front(mw);
    for (let i = 0; i < 4; i++) await echo(`${proxySide.url}/api/`);
    const survivor = mw.balancer.targets.find((t) => t.url.port === String(b.port)) as ProxyTarget;
    const before = mw.stats().find((s) => s.name === survivor.name);
    expect(before?.requests).toBe(2);

    srvTable(dns, [srv(b, 'b.api.test', 2), srv(c, 'c.api.test')]);
    await until(() => names(mw).join() === [`127.0.0.1:${b.port}`, `127.0.0.1:${c.port}`].sort().join(), 'b and c only');
    const after = mw.balancer.targets.find((t) => t.url.port === String(b.port));
    expect(after).toBe(survivor);
    expect(after?.weight).toBe(2);
    expect(mw.stats().find((s) => s.name === survivor.name)?.requests).toBe(2);

    const seen = new Set<string>();
    for (let i = 0; i < 3; i++) seen.add((await echo(`${proxySide.url}/api/`)).name);
    expect([...seen].sort()).toEqual(['b', 'c']);
    expect(a.requests).toHaveLength(2);
  });
});

describe('discover: SRV edge cases', () => {
  it("gives weight-0 records RFC 2782's small chance (0.01) and skips a target of '.'", async () => {
    const a = track(await startUpstream({ name: 'a' }));
    const b = track(await startUpstream({ name: 'b' }));
    const dns = await dnsServer();
    srvTable(dns, [srv(a, 'a.api.test', 0), srv(b, 'b.api.test', 0)]);
    dns.records.set(SRV_NAME, { SRV: [srv(a, 'a.api.test', 0), srv(b, 'b.api.test', 0), { priority: 10, weight: 5, port: 1, target: '.' }] });
    const mw = proxyFor({ discover: discoverFrom(dns) });
    const proxySide = await front(mw);
    await until(() => mw.stats().length === 2, 'both targets');
    expect(mw.balancer.targets.map((t) => t.weight)).toEqual([0.01, 0.01]);
    const seen = new Set<string>();
    for (let i = 0; i < 2; i++) seen.add((await echo(`${proxySide.url}/api/`)).name);
    expect([...seen].sort()).toEqual(['a', 'b']);
  });
});

describe('discover: A and AAAA records', () => {
  it('asks for both A and AAAA by default: each address is a target on the given port, IPv6 bracketed', async () => {
    const dns = await dnsServer({ 'api.test': { A: ['127.0.0.1'], AAAA: ['::1'] } });
    const mw = proxyFor({ discover: { dns: 'api.test', port: 8080, interval: INTERVAL, servers: [dns.address] } });
    await until(() => mw.stats().length === 2, 'two targets');
    expect(mw.stats().map((s) => s.url).sort()).toEqual(['http://127.0.0.1:8080/', 'http://[::1]:8080/']);
    expect(names(mw)).toEqual(['127.0.0.1:8080', '[::1]:8080']);
    expect(new Set(dns.questions.map((q) => q.type))).toEqual(new Set(['A', 'AAAA']));
  });

  it("type 'A' asks only for A records; the port defaults to the scheme's (443 for https)", async () => {
    const dns = await dnsServer({ 'api.test': { A: ['127.0.0.1'], AAAA: ['::1'] } });
    const mw = proxyFor({ discover: { dns: 'api.test', type: 'A', scheme: 'https', interval: INTERVAL, servers: [dns.address] } });
    await until(() => mw.stats().length === 1, 'one target');
    expect(mw.stats()[0]?.url).toBe('https://127.0.0.1/');
    expect(dns.questions.every((q) => q.type === 'A')).toBe(true);
  });

  it('proxies to an IPv4 upstream found by its A record; the upstream sees its own address as Host unless a header rule names one', async () => {
    const up = track(await startUpstream());
    const dns = await dnsServer({ 'api.test': { A: ['127.0.0.1'] } });
    const discover: DiscoverOptions = { dns: 'api.test', type: 'A', port: up.port, interval: INTERVAL, servers: [dns.address] };
    const plain = await front(proxyFor({ discover }));
    expect((await echo(`${plain.url}/api/`)).headers.host).toBe(`127.0.0.1:${up.port}`);
    const named = await front(proxyFor({ discover, headers: { host: 'api.test' } }));
    expect((await echo(`${named.url}/api/`)).headers.host).toBe('api.test');
  });

  it('proxies to an IPv6 upstream found by its AAAA record', async (ctx) => {
    if (!(await ipv6Loopback())) ctx.skip(); // ::1 cannot be bound on this machine (IPv6 disabled), so there is no upstream to reach
    const server = http.createServer((req, res) => res.end(`v6 ${req.headers.host}`));
    await new Promise<void>((resolve) => server.listen(0, '::1', resolve));
    defer(() => new Promise((resolve) => server.close(resolve)));
    const port = (server.address() as { port: number }).port;
    const dns = await dnsServer({ 'api.test': { AAAA: ['::1'] } });
    const proxySide = await front(proxyFor({ discover: { dns: 'api.test', type: 'AAAA', port, interval: INTERVAL, servers: [dns.address] } }));
    const reply = await sendText(`${proxySide.url}/api/`);
    expect(reply.body).toBe(`v6 [::1]:${port}`);
  });
});

describe('discover: failed lookups keep the last good set', () => {
  it.each([
    ['the server answers SERVFAIL', (dns: DnsServer) => { dns.mode = 'servfail'; }],
    ['the server stops answering', (dns: DnsServer) => { dns.mode = 'silent'; }],
    ['the name is gone (NXDOMAIN)', (dns: DnsServer) => { dns.records.delete(SRV_NAME); }],
    ['the answer is empty', (dns: DnsServer) => { dns.records.set(SRV_NAME, {}); }],
  ])('when %s, and follows the records again once they are back', async (_, fail) => {
    const a = track(await startUpstream({ name: 'a' }));
    const b = track(await startUpstream({ name: 'b' }));
    const dns = await dnsServer();
    srvTable(dns, [srv(a, 'a.api.test')]);
    const mw = proxyFor({ discover: discoverFrom(dns) });
    const proxySide = await front(mw);
    await until(() => mw.stats().length === 1, 'the first set');
    const target = mw.balancer.targets[0];

    fail(dns);
    await afterQuestions(dns, 3);
    expect(mw.balancer.targets).toEqual([target]);
    expect((await echo(`${proxySide.url}/api/`)).name).toBe('a');

    dns.mode = 'answer';
    srvTable(dns, [srv(b, 'b.api.test')]);
    await until(() => names(mw).join() === `127.0.0.1:${b.port}`, 'the new set');
  });

  it('a request that arrives before the first lookup finished waits for it', async () => {
    const up = track(await startUpstream());
    const dns = await dnsServer();
    srvTable(dns, [srv(up, 'a.api.test')]);
    dns.mode = 'hold';
    let arrived = 0;
    const mw = proxyFor({ discover: discoverFrom(dns) });
    const proxySide = await front(mw, (_req, _res, next) => {
      arrived += 1;
      next();
    });
    const reply = sendText(`${proxySide.url}/api/early`);
    await until(() => arrived === 1 && dns.questions.length > 0, 'the request at the proxy, the lookup held');
    expect(mw.stats()).toEqual([]);
    dns.release();
    expect((await reply).status).toBe(200);
    expect(up.requests.map((r) => r.url)).toEqual(['/early']);
  });

  it('a WebSocket upgrade that arrives before the first lookup finished waits for it too', async () => {
    const up = track(await startUpstream());
    const wss = new WebSocketServer({ noServer: true });
    defer(() => new Promise((resolve) => wss.close(resolve)));
    up.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) =>
      wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (m: Buffer) => ws.send(`echo ${m.toString()}`))),
    );
    const dns = await dnsServer();
    srvTable(dns, [srv(up, 'a.api.test')]);
    dns.mode = 'hold';
    const mw = proxyFor({ discover: discoverFrom(dns), ws: true });
    const proxySide = track(await listen(mw));
    let upgrades = 0;
    proxySide.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      upgrades += 1;
      mw.upgrade(req, socket, head);
    });
    const client = new WebSocket(`ws://127.0.0.1:${proxySide.port}/chat`);
    defer(() => client.terminate());
    await until(() => upgrades === 1 && dns.questions.length > 0, 'the upgrade at the proxy, the lookup held');
    dns.release();
    await once(client, 'open');
    client.send('hi');
    const [message] = (await once(client, 'message')) as [Buffer];
    expect(message.toString()).toBe('echo hi');
  });

  it('when the first lookup fails, requests get NO_UPSTREAM (503) until a lookup succeeds', async () => {
    const up = track(await startUpstream());
    const dns = await dnsServer();
    dns.mode = 'servfail';
    const mw = proxyFor({ discover: discoverFrom(dns) });
    const proxySide = await front(mw);
    const reply = await sendText(`${proxySide.url}/api/`, { headers: { accept: 'application/json' } });
    expect(reply.status).toBe(503);
    expect(reply.body).toMatch(/"code":"NO_UPSTREAM"/);
    srvTable(dns, [srv(up, 'a.api.test')]);
    dns.mode = 'answer';
    await until(() => mw.stats().length === 1, 'the first good set');
    expect((await sendText(`${proxySide.url}/api/`)).status).toBe(200);
  });
});

describe('discover: with targets, health checks and close()', () => {
  it('keeps the configured targets and never duplicates one that DNS also names', async () => {
    const fixed = track(await startUpstream({ name: 'fixed' }));
    const found = track(await startUpstream({ name: 'found' }));
    const dns = await dnsServer();
    srvTable(dns, [srv(fixed, 'fixed.api.test'), srv(found, 'found.api.test')]);
    const mw = proxyFor({ targets: fixed.url, discover: discoverFrom(dns) });
    await until(() => mw.stats().length === 2, 'the discovered target');
    expect(names(mw)).toEqual([`127.0.0.1:${fixed.port}`, `127.0.0.1:${found.port}`].sort());

    // DNS keeps only the configured one: the discovered one goes.
    srvTable(dns, [srv(fixed, 'fixed.api.test')]);
    await until(() => mw.stats().length === 1, 'the discovered target removed');
    expect(names(mw)).toEqual([`127.0.0.1:${fixed.port}`]);
    // DNS drops the configured one: it stays, it is not DNS's to remove.
    srvTable(dns, [srv(found, 'found.api.test')]);
    await until(() => mw.stats().length === 2, 'the discovered target back');
    expect(names(mw)).toEqual([`127.0.0.1:${fixed.port}`, `127.0.0.1:${found.port}`].sort());
  });

  it('adds to and removes from a balancer instance given as `balancer`', async () => {
    const a = track(await startUpstream({ name: 'a' }));
    const b = track(await startUpstream({ name: 'b' }));
    const dns = await dnsServer();
    srvTable(dns, [srv(a, 'a.api.test')]);
    const balancer = leastConn([]);
    const mw = proxyFor({ balancer, discover: discoverFrom(dns) });
    const proxySide = await front(mw);
    expect((await echo(`${proxySide.url}/api/`)).name).toBe('a');
    expect(balancer.targets.map((t) => t.name)).toEqual([`127.0.0.1:${a.port}`]);
    srvTable(dns, [srv(b, 'b.api.test')]);
    await until(() => balancer.targets.length === 1 && balancer.targets[0]?.name === `127.0.0.1:${b.port}`, 'b in the instance');
  });

  it('active health checks cover added targets and stop for removed ones', async () => {
    const healthy = track(await startUpstream({ name: 'healthy' }));
    const sick = track(await startUpstream((req, res) => {
      res.writeHead(req.url === '/health' ? 503 : 200).end();
    }));
    const dns = await dnsServer();
    srvTable(dns, [srv(healthy, 'healthy.api.test'), srv(sick, 'sick.api.test')]);
    const mw = proxyFor({ discover: discoverFrom(dns), healthCheck: { path: '/health', interval: 20 } });
    const sickName = `127.0.0.1:${sick.port}`;
    await until(() => mw.stats().find((s) => s.name === sickName)?.healthy === false, 'the sick target marked down');

    srvTable(dns, [srv(healthy, 'healthy.api.test')]);
    await until(() => mw.stats().length === 1, 'the sick target removed');
    // Let a round start after the removal, so a check sent just before it has been answered.
    const checksOf = (up: Upstream): number => up.requests.filter((r) => r.url === '/health').length;
    const goal = checksOf(healthy) + 2;
    await until(() => checksOf(healthy) >= goal, 'two more rounds');
    const sickChecks = checksOf(sick);
    const goal2 = checksOf(healthy) + 3;
    await until(() => checksOf(healthy) >= goal2, 'three more rounds');
    expect(checksOf(sick)).toBe(sickChecks);
  });

  it('close() stops the lookups: the DNS server hears nothing more, while another proxy keeps asking', async () => {
    const up = track(await startUpstream());
    const dns = await dnsServer();
    srvTable(dns, [srv(up, 'a.api.test')]);
    dns.records.set('other.test', { A: ['127.0.0.1'] });
    const mw = proxy({ discover: discoverFrom(dns) });
    await until(() => mw.stats().length === 1, 'the first set');
    await mw.close();
    const heard = dns.questions.filter((q) => q.name !== 'other.test').length;
    // A second proxy on the same server is the clock: five of its refreshes.
    proxyFor({ discover: { dns: 'other.test', type: 'A', interval: INTERVAL, servers: [dns.address] } });
    await until(() => dns.questions.filter((q) => q.name === 'other.test').length >= 5, 'five refreshes of the other proxy');
    expect(dns.questions.filter((q) => q.name !== 'other.test')).toHaveLength(heard);
  });

  it('close() cancels a lookup in flight: a request waiting for it is answered at once', async () => {
    const dns = await dnsServer();
    dns.mode = 'silent';
    const mw = proxy({ discover: { dns: 'api.test', interval: 60_000, servers: [dns.address] } });
    const proxySide = await front(mw);
    const reply = sendText(`${proxySide.url}/api/`);
    await until(() => dns.questions.length > 0, 'the lookup sent');
    const closing = mw.close();
    // The query's own timeout is 2 s (then a second try): an answer well before that is the cancel.
    const started = Date.now();
    expect((await reply).status).toBe(503);
    await closing;
    expect(Date.now() - started).toBeLessThan(1500);
  });
});

describe('discover: NODE_DEBUG=switchyard', () => {
  it('prints each change of the set and each failed lookup to stderr', async () => {
    const script = fileURLToPath(new URL('./fixtures/discover-debug-run.mjs', import.meta.url));
    const { stderr } = await promisify(execFile)(process.execPath, [script], {
      env: { ...process.env, NODE_DEBUG: 'switchyard' },
      timeout: 20_000,
    });
    expect(stderr).toMatch(/^SWITCHYARD \d+: discover api\.test: \+127\.0\.0\.1:3001 \(1 discovered\)$/m);
    expect(stderr).toMatch(/^SWITCHYARD \d+: discover api\.test: lookup failed \(ESERVFAIL\), keeping the 1 discovered$/m);
  });
});
