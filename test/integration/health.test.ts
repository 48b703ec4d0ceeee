/**
 * Health through real HTTP: passive health (failures on real traffic mark a target down for
 * failTimeout), active checks (GET path every interval: status, timeout, expectStatus, port,
 * healthyAfter / unhealthyAfter, run-time targets), how both combine in `stats().healthy`,
 * custom balancers, `maxConns`, and `close()` stopping every check.
 *
 * Timing is never asserted: state changes are awaited by polling `stats()` (bounded, with
 * wide margins), and "no more checks" is awaited by counting checks another checker makes.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  proxy,
  type Balancer,
  type ProxyConfig,
  type ProxyMiddleware,
  type ProxyTarget,
  type TargetInput,
} from '../../src/index.js';
import { generateCerts, type TestCerts } from '../helpers/certs.js';
import { deadTargetUrl } from '../helpers/dead-target.js';
import { sendText } from '../helpers/client.js';
import { useCleanup } from '../helpers/lifecycle.js';
import { listen, serveOnLoopback } from '../helpers/listen.js';
import { until } from '../helpers/poll.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const { track, proxyFor } = useCleanup({ parallel: true });

interface Reply {
  status: number;
  body: string;
}

async function send(url: string, headers: http.OutgoingHttpHeaders = {}): Promise<Reply> {
  const { status, body } = await sendText(url, { headers });
  return { status, body };
}

interface Served {
  mw: ProxyMiddleware;
  url: string;
  get(path?: string, headers?: http.OutgoingHttpHeaders): Promise<Reply>;
  healthy(name: string): boolean;
}

async function serve(config: ProxyConfig): Promise<Served> {
  const mw = proxy(config);
  const app = express();
  app.use('/api', mw);
  const server = await listen(app);
  track(server);
  track(mw);
  return {
    mw,
    url: server.url,
    get: (path = '/x', headers = {}) => send(`${server.url}/api${path}`, headers),
    healthy(name) {
      const s = mw.stats().find((t) => t.name === name);
      if (s === undefined) throw new Error(`no target ${name} in stats()`);
      return s.healthy;
    },
  };
}

/** Name of the upstream that answered (see `controlled`). */
function nameOf(reply: Reply): string {
  expect(reply.status).toBe(200);
  return (JSON.parse(reply.body) as { name: string }).name;
}

/** What a controlled upstream does; tests change it while the proxy runs. */
interface Control {
  /** Status of `/health`. */
  health: number;
  /** `/health` never answers (until the client gives up). */
  hangHealth: boolean;
  /** Proxied requests: the connection is destroyed before any response (UPSTREAM_UNAVAILABLE). */
  failTraffic: boolean;
  /** Called as each `/health` check arrives. */
  onCheck: (() => void) | undefined;
}

interface Controlled {
  readonly up: Upstream;
  readonly control: Control;
  /** `/health` requests received. */
  checks(): number;
  /** Requests other than `/health` received. */
  traffic(): number;
  /** Releases requests held at `/hold` (for maxConns). */
  release(): void;
}

/**
 * An upstream whose `/health` answers `control.health` (or hangs), whose `/hold` waits for
 * `release()`, and whose other paths answer `{ name }` (or drop the connection).
 */
async function controlled(name: string): Promise<Controlled> {
  const control: Control = { health: 200, hangHealth: false, failTraffic: false, onCheck: undefined };
  let releaseHeld: () => void = () => {};
  let held = new Promise<void>((resolve) => (releaseHeld = resolve));
  const up = await startUpstream(async (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/health') === true) {
      control.onCheck?.();
      if (control.hangHealth) return;
      res.writeHead(control.health, { 'content-type': 'text/plain' }).end('health');
      return;
    }
    if (control.failTraffic) {
      req.socket.destroy();
      return;
    }
    if (req.url === '/hold') await held;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name }));
  }, { name });
  track(up);
  const isCheck = (url: string): boolean => url.startsWith('/health');
  return {
    up,
    control,
    checks: () => up.requests.filter((r) => isCheck(r.url)).length,
    traffic: () => up.requests.filter((r) => !isCheck(r.url)).length,
    release() {
      releaseHeld();
      held = new Promise<void>((resolve) => (releaseHeld = resolve));
    },
  };
}

function target(c: Controlled): { url: string; name: string } {
  return { url: c.up.url, name: c.up.name };
}

/** A user's own balancer: the first target of its list not excluded, ignoring health and load. */
function firstOf(list: ProxyTarget[]): Balancer {
  return {
    get targets() {
      return list;
    },
    add(input: TargetInput) {
      const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
      const t: ProxyTarget = { url, name: url.host, weight: 1, meta: {}, healthy: true, active: 0 };
      list.push(t);
      return t;
    },
    remove: () => false,
    next: (_req, exclude) => list.find((t) => exclude?.has(t) !== true),
  };
}

function foreign(c: Controlled | string, name: string): ProxyTarget {
  return { url: new URL(typeof c === 'string' ? c : c.up.url), name, weight: 1, meta: {}, healthy: true, active: 0 };
}

describe('passive health', () => {
  it('marks a target down after maxFails failures and moves traffic to the others', async () => {
    const dead = await deadTargetUrl();
    const live = await controlled('live');
    const { get, healthy, mw } = await serve({
      targets: [{ url: dead, name: 'dead' }, target(live)],
      balancer: 'first',
      passive: { maxFails: 2, failTimeout: 60_000 },
    });

    expect((await get()).status).toBe(502);
    expect(healthy('dead')).toBe(true); // one failure of two
    expect((await get()).status).toBe(502);
    expect(healthy('dead')).toBe(false);

    for (let i = 0; i < 5; i++) expect(nameOf(await get())).toBe('live');
    const dead2 = mw.stats().find((s) => s.name === 'dead');
    expect(dead2).toMatchObject({ healthy: false, requests: 2, failures: 2 });
  });

  it('brings the target back after failTimeout', async () => {
    const flaky = await controlled('flaky');
    const live = await controlled('live');
    flaky.control.failTraffic = true;
    const { get, healthy } = await serve({
      targets: [target(flaky), target(live)],
      balancer: 'first',
      passive: { maxFails: 1, failTimeout: 200 },
    });

    expect((await get()).status).toBe(502);
    expect(healthy('flaky')).toBe(false);
    expect(nameOf(await get())).toBe('live');

    flaky.control.failTraffic = false;
    await until(() => healthy('flaky'), 'flaky to recover');
    expect(nameOf(await get())).toBe('flaky');
  });

  it('counts timeouts (UPSTREAM_TIMEOUT)', async () => {
    const slow = await controlled('slow');
    const live = await controlled('live');
    const { get, healthy } = await serve({
      targets: [target(slow), target(live)],
      balancer: 'first',
      timeout: 100,
      passive: { maxFails: 1, failTimeout: 60_000 },
    });
    expect((await get('/hold')).status).toBe(504);
    slow.release();
    expect(healthy('slow')).toBe(false);
    expect(nameOf(await get())).toBe('live');
  });

  it('does not count upstream statuses, unexpected statuses, hook failures or client aborts', async () => {
    const up = await startUpstream((req, res) => {
      if (req.url === '/hang') return; // answered by nobody: the client gives up
      const status = Number(req.url?.slice(1)) || 200;
      res.writeHead(status, { 'content-type': 'text/plain' }).end('x');
    }, { name: 'up' });
    track(up);
    const { get, healthy, url, mw } = await serve({
      targets: { url: up.url, name: 'up' },
      passive: { maxFails: 1, failTimeout: 60_000 },
      expectedStatus: [200, 201, 500],
      modifyResponse: (proxyRes) => {
        if (proxyRes.statusCode === 201) throw new Error('hook failed');
      },
    });

    expect((await get('/500')).status).toBe(500); // a status, passed on as it is
    expect((await get('/404')).status).toBe(502); // UNEXPECTED_STATUS
    expect((await get('/201')).status).toBe(502); // RESPONSE_HOOK_FAILED
    expect(healthy('up')).toBe(true);

    // A client that goes away (recorded as 499) says nothing about the upstream.
    const aborted = http.request(`${url}/api/hang`, { agent: false });
    aborted.on('error', () => {});
    aborted.end();
    await until(() => up.requests.some((r) => r.url === '/hang'), 'the upstream to receive /hang');
    aborted.destroy();
    await until(() => mw.stats()[0]?.statuses[499] === 1, 'the abort to be recorded');
    expect(healthy('up')).toBe(true);
    expect((await get('/200')).status).toBe(200);
  });

  it('with retries: the failed target is retried elsewhere and then left alone', async () => {
    const dead = await deadTargetUrl();
    const live = await controlled('live');
    const { get, healthy, mw } = await serve({
      targets: [{ url: dead, name: 'dead' }, target(live)],
      retries: 1,
      passive: { maxFails: 1, failTimeout: 60_000 },
    });
    for (let i = 0; i < 6; i++) expect(nameOf(await get())).toBe('live');
    expect(healthy('dead')).toBe(false);
    expect(mw.stats().find((s) => s.name === 'dead')?.requests).toBe(1);
  });

  it('works with a custom balancer: its unhealthy choice is skipped', async () => {
    const dead = await deadTargetUrl();
    const live = await controlled('live');
    const list = [foreign(dead, 'dead'), foreign(live, 'live')];
    const { get, healthy } = await serve({ balancer: firstOf(list), passive: { maxFails: 1, failTimeout: 60_000 } });
    expect((await get()).status).toBe(502);
    expect(healthy('dead')).toBe(false);
    expect(list[0]!.healthy).toBe(true); // the user's object is never written to
    for (let i = 0; i < 3; i++) expect(nameOf(await get())).toBe('live');
  });
});

describe('passive health must not take every target down (issue 12)', () => {
  it('failures spread over all targets: an always-healthy endpoint keeps answering 200, not 503 NO_UPSTREAM', async () => {
    // One flaky endpoint on every upstream, as in the fault run the issue reports.
    const ups = await Promise.all(
      ['u0', 'u1'].map((name) =>
        startUpstream((req, res) => {
          if (req.url === '/flaky') return void req.socket.destroy();
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name }));
        }, { name }),
      ),
    );
    ups.forEach((u) => track(u));
    const { get, healthy, mw } = await serve({
      targets: ups.map((u) => ({ url: u.url, name: u.name })),
      passive: { maxFails: 1, failTimeout: 60_000 },
    });
    expect((await get('/flaky')).status).toBe(502);
    expect((await get('/flaky')).status).toBe(502);
    expect(healthy('u0') || healthy('u1')).toBe(false);

    const answered: string[] = [];
    for (let i = 0; i < 6; i++) answered.push(nameOf(await get('/ok')));
    // Routed as if passive health were off: round robin over both.
    expect(new Set(answered)).toEqual(new Set(['u0', 'u1']));
    // The marks stay visible.
    expect(mw.stats().map((t) => t.healthy)).toEqual([false, false]);
  });

  it('in panic mode a target failing its active check is still never chosen', async () => {
    const a = await controlled('a');
    const b = await controlled('b');
    a.control.health = 500;
    const { get, healthy } = await serve({
      targets: [target(a), target(b)],
      healthCheck: { path: '/health', interval: 50 },
      passive: { maxFails: 1, failTimeout: 60_000 },
    });
    await until(() => !healthy('a'), 'a to fail its check');
    b.control.failTraffic = true;
    expect((await get()).status).toBe(502);
    expect(healthy('b')).toBe(false);
    b.control.failTraffic = false;
    for (let i = 0; i < 4; i++) expect(nameOf(await get())).toBe('b');
    expect(a.traffic()).toBe(0);
  });
});

describe('active health checks', () => {
  it('marks a target unhealthy when /health answers 500, and healthy again when it recovers', async () => {
    const a = await controlled('a');
    const b = await controlled('b');
    const { get, healthy } = await serve({
      targets: [target(a), target(b)],
      healthCheck: { path: '/health', interval: 50 },
    });
    await until(() => a.checks() >= 1 && b.checks() >= 1, 'the first round');
    expect(a.up.requests.find((r) => r.url === '/health')).toMatchObject({ method: 'GET' });
    expect(healthy('a')).toBe(true);

    a.control.health = 500;
    await until(() => !healthy('a'), 'a to be unhealthy');
    for (let i = 0; i < 4; i++) expect(nameOf(await get())).toBe('b');

    a.control.health = 200;
    await until(() => healthy('a'), 'a to recover');
    const names = new Set<string>();
    for (let i = 0; i < 4; i++) names.add(nameOf(await get()));
    expect(names).toEqual(new Set(['a', 'b']));
  });

  it('marks a target unhealthy when its check times out', async () => {
    const a = await controlled('a');
    const { healthy } = await serve({ targets: target(a), healthCheck: { path: '/health', interval: 50, timeout: 100 } });
    a.control.hangHealth = true;
    await until(() => !healthy('a'), 'a to time out');
    a.control.hangHealth = false;
    await until(() => healthy('a'), 'a to recover');
  });

  it('accepts any 2xx by default', async () => {
    const ok = await controlled('ok');
    const redirect = await controlled('redirect');
    ok.control.health = 204;
    redirect.control.health = 302;
    const { healthy } = await serve({ targets: [target(ok), target(redirect)], healthCheck: { path: '/health', interval: 50 } });
    await until(() => !healthy('redirect'), 'a 302 to fail');
    await until(() => ok.checks() >= 3, 'more checks of ok');
    expect(healthy('ok')).toBe(true);
  });

  it('expectStatus replaces the 2xx rule', async () => {
    const a = await controlled('a');
    const b = await controlled('b');
    a.control.health = 204;
    b.control.health = 200;
    const { healthy } = await serve({
      targets: [target(a), target(b)],
      healthCheck: { path: '/health', interval: 50, expectStatus: [204] },
    });
    await until(() => !healthy('b'), 'a 200 to fail');
    await until(() => a.checks() >= 3, 'more checks of a');
    expect(healthy('a')).toBe(true);
  });

  it('port sends the checks to another port of the target host', async () => {
    const app = await controlled('app');
    app.control.health = 500; // the app's own /health must not be asked
    const side = await controlled('side');
    const { healthy } = await serve({
      targets: target(app),
      healthCheck: { path: '/health', interval: 50, port: side.up.port },
    });
    await until(() => side.checks() >= 3, 'checks on the health port');
    expect(app.checks()).toBe(0);
    expect(healthy('app')).toBe(true);
    // The check carries the target's own Host, as proxied requests do.
    expect(side.up.requests[0]?.headers.host).toBe(new URL(app.up.url).host);

    side.control.health = 503;
    await until(() => !healthy('app'), 'app to be unhealthy by its health port');
  });

  it('unhealthyAfter and healthyAfter count consecutive results', async () => {
    const a = await controlled('a');
    // Check n answers script[n-1]. Checks of one target never overlap, so when check n
    // arrives, results 1..n-1 are applied: record the verdict then.
    const script = [500, 500, 500, 500, 200, 200, 200, 200, 200];
    const seen: boolean[] = [];
    const mw = proxyFor({ targets: target(a), healthCheck: { path: '/health', interval: 50, unhealthyAfter: 3, healthyAfter: 2 } });
    a.control.onCheck = () => {
      if (seen.length >= script.length) return;
      seen.push(mw.stats()[0]!.healthy);
      a.control.health = script[seen.length - 1]!;
    };
    await until(() => seen.length === script.length, 'the scripted checks');
    // Down from the 3rd failure in a row, up again from the 2nd pass in a row.
    expect(seen).toEqual([true, true, true, false, false, false, true, true, true]);
  });

  it('checks targets added at run time and stops checking removed ones', async () => {
    const a = await controlled('a');
    const b = await controlled('b');
    b.control.health = 500;
    const { mw, healthy } = await serve({ targets: target(a), healthCheck: { path: '/health', interval: 50 } });
    await until(() => a.checks() >= 1, 'the first round');
    expect(b.checks()).toBe(0);

    const added = mw.balancer.add(target(b));
    await until(() => !healthy('b'), 'the added target to be checked');
    expect(added.healthy).toBe(false);

    mw.balancer.remove('b');
    const atRemoval = b.checks();
    const aBefore = a.checks();
    await until(() => a.checks() >= aBefore + 3, 'three more rounds');
    // At most one check was already on its way when the target was removed.
    expect(b.checks()).toBeLessThanOrEqual(atRemoval + 1);
    expect(added.healthy).toBe(true); // the checker released its mark on the removed target
  });

  it('answers 503 NO_UPSTREAM when every target is unhealthy', async () => {
    const a = await controlled('a');
    const b = await controlled('b');
    a.control.health = 500;
    b.control.health = 500;
    const { get, healthy } = await serve({ targets: [target(a), target(b)], healthCheck: { path: '/health', interval: 50 } });
    await until(() => !healthy('a') && !healthy('b'), 'both to be unhealthy');
    const reply = await get('/x', { accept: 'application/json' });
    expect(reply.status).toBe(503);
    expect(JSON.parse(reply.body)).toEqual({ error: { status: 503, code: 'NO_UPSTREAM', message: 'Service Unavailable' } });
    expect(a.traffic() + b.traffic()).toBe(0);
  });

  it('works with a custom balancer: its unhealthy choice is skipped', async () => {
    const a = await controlled('a');
    const b = await controlled('b');
    a.control.health = 500;
    const list = [foreign(a, 'a'), foreign(b, 'b')];
    const { get, healthy } = await serve({ balancer: firstOf(list), healthCheck: { path: '/health', interval: 50 } });
    await until(() => !healthy('a'), 'a to be unhealthy');
    for (let i = 0; i < 3; i++) expect(nameOf(await get())).toBe('b');
    expect(a.traffic()).toBe(0);
  });
});

describe('active health checks over TLS', () => {
  let certs: TestCerts;
  beforeAll(async () => {
    certs = await generateCerts();
  });
  afterAll(async () => {
    await certs.cleanup();
  });

  /** An HTTPS upstream answering 200 to everything; returns its URL and a check counter. */
  async function httpsUpstream(pair: { cert: string; key: string }): Promise<{ url: string; checks: () => number }> {
    let checks = 0;
    const server = https.createServer(pair, (req, res) => {
      if (req.url === '/health') checks++;
      res.end('ok');
    });
    const { port } = track(await serveOnLoopback(server));
    return { url: `https://localhost:${port}`, checks: () => checks };
  }

  it('uses the tls option: a trusted CA passes, an untrusted certificate fails unless verify is false', async () => {
    const trusted = await httpsUpstream(certs.server);
    const self = await httpsUpstream(certs.selfSigned);
    const healthCheck = { path: '/health', interval: 50 };
    const withCa = await serve({ targets: [{ url: trusted.url, name: 'trusted' }, { url: self.url, name: 'self' }], healthCheck, tls: { ca: certs.ca } });
    await until(() => !withCa.healthy('self'), 'the self-signed upstream to fail its check');
    await until(() => trusted.checks() >= 3, 'checks of the trusted upstream');
    expect(withCa.healthy('trusted')).toBe(true);

    const lax = await serve({ targets: { url: self.url, name: 'self' }, healthCheck, tls: { verify: false } });
    const before = self.checks();
    await until(() => self.checks() >= before + 3, 'checks without verification');
    expect(lax.healthy('self')).toBe(true);
  });
});

describe('stats().healthy combines both sources', () => {
  it('is false while passive health holds a target down, even when its checks pass', async () => {
    const a = await controlled('a');
    const b = await controlled('b');
    a.control.failTraffic = true;
    const { get, healthy } = await serve({
      targets: [target(a), target(b)],
      balancer: 'first',
      healthCheck: { path: '/health', interval: 50 },
      passive: { maxFails: 1, failTimeout: 60_000 },
    });
    await until(() => a.checks() >= 1, 'the first round');
    expect((await get()).status).toBe(502);
    const checksBefore = a.checks();
    await until(() => a.checks() >= checksBefore + 3, 'passing checks');
    expect(healthy('a')).toBe(false);
    expect(nameOf(await get())).toBe('b');
  });

  it('is false while the active check fails, with no passive failure at all', async () => {
    const a = await controlled('a');
    a.control.health = 500;
    const { healthy, mw } = await serve({
      targets: target(a),
      healthCheck: { path: '/health', interval: 50 },
      passive: { maxFails: 1, failTimeout: 60_000 },
    });
    await until(() => !healthy('a'), 'a to be unhealthy');
    expect(mw.stats()[0]).toMatchObject({ healthy: false, failures: 0, requests: 0 });
  });
});

describe('close() stops health checks', () => {
  it('sends no further checks after close(), and the health server sees its sockets closed', async () => {
    const watched = await controlled('watched');
    const clock = await controlled('clock'); // another middleware's checks measure time passing
    const { mw } = await serve({ targets: target(watched), healthCheck: { path: '/health', interval: 50 } });
    await serve({ targets: target(clock), healthCheck: { path: '/health', interval: 50 } });
    await until(() => watched.checks() >= 2, 'checks before close');

    await mw.close();
    // Let anything already on the wire arrive, then watch several more intervals pass.
    const clockAtClose = clock.checks();
    await until(() => clock.checks() >= clockAtClose + 1, 'one interval');
    const afterClose = watched.checks();
    await until(() => clock.checks() >= clockAtClose + 5, 'four more intervals');
    expect(watched.checks()).toBe(afterClose);
    await until(() => watched.up.openSockets() === 0, 'the health sockets to close', 5_000);
  });

  it('aborts a check in flight', async () => {
    const a = await controlled('a');
    a.control.hangHealth = true;
    const { mw } = await serve({ targets: target(a), healthCheck: { path: '/health', interval: 60_000, timeout: 60_000 } });
    await until(() => a.checks() === 1 && a.up.openSockets() === 1, 'the hanging check');
    await mw.close();
    // Far sooner than the check's own 60 s timeout.
    await until(() => a.up.openSockets() === 0, 'the aborted check’s socket to close', 10_000);
  });
});

describe('maxConns', () => {
  it('skips a full target', async () => {
    const a = await controlled('a');
    const b = await controlled('b');
    const { get } = await serve({ targets: [target(a), target(b)], balancer: 'first', maxConns: 1 });
    const held = get('/hold');
    await until(() => a.traffic() === 1, 'a to hold one request');
    expect(nameOf(await get())).toBe('b');
    expect(nameOf(await get())).toBe('b');
    a.release();
    expect(nameOf(await held)).toBe('a');
    expect(nameOf(await get())).toBe('a');
  });

  it('answers 503 NO_UPSTREAM when every target is full', async () => {
    const a = await controlled('a');
    const { get, mw } = await serve({ targets: target(a), maxConns: 1 });
    const held = get('/hold');
    await until(() => a.traffic() === 1, 'a to hold one request');
    const reply = await get('/x', { accept: 'application/json' });
    expect(reply.status).toBe(503);
    expect(JSON.parse(reply.body)).toMatchObject({ error: { code: 'NO_UPSTREAM' } });
    expect(a.traffic()).toBe(1);
    expect(mw.stats()[0]).toMatchObject({ active: 1, healthy: true });
    a.release();
    expect(nameOf(await held)).toBe('a');
  });

  it('applies to a custom balancer’s targets too', async () => {
    const a = await controlled('a');
    const b = await controlled('b');
    const list = [foreign(a, 'a'), foreign(b, 'b')];
    const { get } = await serve({ balancer: firstOf(list), maxConns: 1 });
    const held = get('/hold');
    await until(() => a.traffic() === 1, 'a to hold one request');
    expect(nameOf(await get())).toBe('b');
    a.release();
    expect(nameOf(await held)).toBe('a');
  });
});
